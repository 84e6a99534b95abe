// Lists blob names depth-first through the y=/m=/d=/h= folders, skipping folders outside the time window.
import { folderAfterCursor, folderBeforeCursor, nameBeforeCursor } from '../order.js';
import type { ItemRef, ListingStats } from '../types.js';
import { mayOverlap, type PathHour, pathInterval, readSegment, type TimeWindow } from '../window.js';
import type { ListedEntry, ListingContainerClient } from './page.js';
import { type RetryOptions, withRetry } from './retry.js';

export interface BlobListing {
  container: ListingContainerClient;
  prefix: string;
  window?: TimeWindow;
  /** Names per list request; the service's maximum is 5000. */
  pageSize: number;
  retry: RetryOptions;
  stats: ListingStats;
  /** Resume after this blob name: folders wholly before it are not listed again (see ../order.ts). */
  after?: string;
  signal?: AbortSignal;
}

interface Entry {
  name: string;
  /** Present for blobs, absent for folder prefixes. */
  item?: ItemRef;
}

/**
 * Yields the blobs under `prefix` in the service's order: blob names in lexicographic (UTF-8 byte) order, the
 * same order a flat listing gives, so two runs over the same container list the same sequence.
 *
 * Without a window, or once a folder lies wholly inside it, a flat listing (up to 5000 names a request)
 * replaces the walk, since nothing below can be pruned. Otherwise folders are opened one level at a time and
 * a folder whose `y=/m=/d=/h=` hour cannot overlap the window is skipped unopened. Memory is one page per
 * open level.
 */
export async function* listBlobs(listing: BlobListing): AsyncGenerator<ItemRef> {
  const parts = completeSegments(listing.prefix).reduce(readSegment, {} as PathHour);
  if (!mayOverlap(parts, listing.window)) {
    listing.stats.foldersPruned++;
    return;
  }
  yield* walk(listing, listing.prefix, parts, listing.after);
}

async function* walk(
  listing: BlobListing,
  prefix: string,
  parts: PathHour,
  after: string | undefined,
): AsyncGenerator<ItemRef> {
  const interval = pathInterval(parts);
  const window = listing.window;
  const inside =
    !window || (interval !== undefined && interval.from >= window.from && interval.to <= window.to);
  listing.stats.foldersOpened++;
  // While the resume cursor lies inside this folder, walk it level by level to skip what came before.
  const flat = inside && after === undefined;
  for await (const entries of pages(listing, prefix, flat)) {
    for (const entry of entries) {
      if (entry.item) {
        if (nameBeforeCursor(entry.name, after)) continue;
        listing.stats.itemsListed++;
        yield entry.item;
        continue;
      }
      const childParts = readSegment(parts, lastSegment(entry.name));
      if (!mayOverlap(childParts, window) || folderBeforeCursor(entry.name, after)) {
        listing.stats.foldersPruned++;
        continue;
      }
      yield* walk(listing, entry.name, childParts, folderAfterCursor(entry.name, after) ? undefined : after);
    }
  }
}

/**
 * The pages of one List Blobs listing under `prefix`, each its own request retried on its own: after
 * a failed page the marker is all that must be trusted. `firstPage` caps the first request.
 */
export async function* listedPages(
  container: ListingContainerClient,
  prefix: string,
  options: {
    delimiter?: string;
    pageSize: number;
    firstPage?: number;
    retry: RetryOptions;
    signal?: AbortSignal;
  },
): AsyncGenerator<ListedEntry[]> {
  let marker: string | undefined;
  do {
    const maxResults = marker === undefined ? (options.firstPage ?? options.pageSize) : options.pageSize;
    const page = await withRetry(
      {
        what: `listing ${JSON.stringify(prefix)}`,
        options: options.retry,
        signal: options.signal,
        isList: true,
      },
      (abortSignal) =>
        container.listPage({
          prefix,
          ...(options.delimiter ? { delimiter: options.delimiter } : {}),
          ...(marker ? { marker } : {}),
          maxResults,
          abortSignal,
        }),
    );
    yield page.entries;
    marker = page.next;
  } while (marker);
}

/**
 * One folder's entries, a page at a time: flat (blobs only) or one level (blobs and sub-folders, in
 * name order). The first page of a listing is small, so work can start while the rest is listed:
 * on a large container the first full page takes the service a second or more.
 */
async function* pages(listing: BlobListing, prefix: string, flat: boolean): AsyncGenerator<Entry[]> {
  const { pageSize } = listing;
  for await (const page of listedPages(listing.container, prefix, {
    ...(flat ? {} : { delimiter: '/' }),
    pageSize,
    ...(listing.stats.itemsListed === 0 ? { firstPage: Math.min(pageSize, FIRST_PAGE) } : {}),
    retry: listing.retry,
    ...(listing.signal ? { signal: listing.signal } : {}),
  })) {
    const entries = page.map(toEntry);
    // Azure interleaves blobs and folders by name; an emulator may not: merge the two sorted runs.
    yield flat
      ? entries
      : mergeByName(
          entries.filter((e) => e.item),
          entries.filter((e) => !e.item),
        );
  }
}

/** Names in the first page of a listing. */
const FIRST_PAGE = 200;

function toEntry(entry: ListedEntry): Entry {
  if (!entry.blob) return { name: entry.name };
  const item: ItemRef = { id: entry.name, size: entry.blob.size };
  if (entry.blob.etag !== undefined) item.version = entry.blob.etag;
  return { name: entry.name, item };
}

/** Two lists sorted by name (UTF-8 bytes) as one. */
function mergeByName(a: Entry[], b: Entry[]): Entry[] {
  if (b.length === 0) return a;
  const out: Entry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x && (!y || Buffer.compare(Buffer.from(x.name), Buffer.from(y.name)) <= 0)) {
      out.push(x);
      i++;
    } else if (y) {
      out.push(y);
      j++;
    }
  }
  return out;
}

/** `a/b/c/` → `c`: the folder segment a hierarchy prefix adds. */
function lastSegment(prefix: string): string {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** The segments of a prefix that are complete folders (`a/b/c` → `a`, `b`; `c` may be a partial name). */
function completeSegments(prefix: string): string[] {
  return prefix.split('/').slice(0, -1);
}
