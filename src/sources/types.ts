// The contract every source implements: list items lazily, open one item's bytes.
import type { Readable } from 'node:stream';
import type { TimeWindow } from './window.js';

/** One unit of work as the source lists it: a file or a blob. */
export interface ItemRef {
  /** Stable id within the source: the path relative to the root, or the blob name. */
  id: string;
  /** Size in bytes when listed. */
  size: number;
  /** Changes when the content is replaced rather than appended to (ETag, or mtime for files). */
  version?: string;
}

/** A folder (or a name) the listing could not read: skipped so the rest is listed, and reported at the end. */
export interface ListingProblem {
  /** Where, relative to the source root. */
  path: string;
  /** Why, in a few words: `EACCES`, `a symbolic link loop`, `its name is not valid UTF-8`. */
  reason: string;
}

export interface ListOptions {
  /** Only items whose `y=/m=/d=/h=` path hour overlaps this window; whole folders outside it are never opened. */
  window?: TimeWindow;
  /** Resume an interrupted listing: only names after this one (see order.ts); folders wholly before it are not opened. */
  after?: string;
  signal?: AbortSignal;
  /** Called for each folder skipped because it cannot be read (the listing goes on without it). */
  onProblem?: (problem: ListingProblem) => void;
}

/** What a source did while listing, for progress and for tests that check pruning. */
export interface ListingStats {
  /** Folders (or hierarchy prefixes) opened. */
  foldersOpened: number;
  /** Items yielded. */
  itemsListed: number;
  /** Folders skipped because their path is outside the time window. */
  foldersPruned: number;
  /** Folders (and names) skipped because they could not be read: see `Source.listingProblems`. */
  unreadable?: number;
}

export interface Source {
  /** Where the items come from, printable: never contains a secret. */
  readonly uri: string;
  readonly stats: ListingStats;
  /** Lists items lazily, in the order of order.ts; never holds the whole listing in memory. */
  list(options?: ListOptions): AsyncIterable<ItemRef>;
  /** Streams an item's bytes from `start` (inclusive) to its current end. */
  open(id: string, start: number, signal?: AbortSignal): Promise<Readable>;
  close(): Promise<void>;
  /** Request counters for this process (requests, retries, throttled, ...), when the source makes requests. */
  requestCounters?(): Record<string, number>;
  /** Reports every request try (latency, push-back) to `listener`; returns the unsubscribe function. */
  observeRequests?(listener: (o: RequestTry) => void): () => void;
  /** The first few folders this process's listings skipped as unreadable (all are counted in `stats.unreadable`). */
  listingProblems?(): readonly ListingProblem[];
  /** The item as a local file, when it is one: then workers read it themselves, off the main thread. */
  localPath?(id: string): string;
}

/** One request try, as seen by adaptive concurrency. */
export interface RequestTry {
  rttMs: number;
  outcome: 'ok' | 'throttled' | 'timeout' | 'error';
  retryAfterMs?: number;
  status?: string;
}
