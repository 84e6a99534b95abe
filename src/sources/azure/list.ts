// Lists blob names depth-first through the y=/m=/d=/h= folders, skipping folders outside the time window.
import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import { folderAfterCursor, folderBeforeCursor, nameBeforeCursor } from '../order.js';
import type { ItemRef, ListingStats } from '../types.js';
import { mayOverlap, type PathHour, pathInterval, readSegment, type TimeWindow } from '../window.js';
import { type RetryOptions, withRetry } from './retry.js';

export interface BlobListing {
  container: ContainerClient;
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

/** One folder's entries, a page at a time: flat (blobs only) or one level (blobs and sub-folders merged). */
async function* pages(listing: BlobListing, prefix: string, flat: boolean): AsyncGenerator<Entry[]> {
  const { container, pageSize, signal } = listing;
  let continuationToken: string | undefined;
  do {
    // A fresh iterator per page: after a failed page the SDK's iterator cannot be trusted, a token can.
    const page = await withRetry(
      { what: `listing ${JSON.stringify(prefix)}`, options: listing.retry, signal, isList: true },
      async (abortSignal): Promise<{ entries: Entry[]; token?: string }> => {
        const options = { prefix: prefix || undefined, abortSignal };
        const byPage = { continuationToken, maxPageSize: pageSize };
        if (flat) {
          const next = await container.listBlobsFlat(options).byPage(byPage).next();
          if (next.done) return { entries: [] };
          return { entries: next.value.segment.blobItems.map(toEntry), token: next.value.continuationToken };
        }
        const next = await container.listBlobsByHierarchy('/', options).byPage(byPage).next();
        if (next.done) return { entries: [] };
        const folders = (next.value.segment.blobPrefixes ?? []).map((p) => ({ name: p.name }));
        const entries = mergeByName(next.value.segment.blobItems.map(toEntry), folders);
        return { entries, token: next.value.continuationToken };
      },
    );
    yield page.entries;
    continuationToken = page.token || undefined;
  } while (continuationToken);
}

function toEntry(blob: BlobItem): Entry {
  return {
    name: blob.name,
    item: { id: blob.name, size: blob.properties.contentLength ?? 0, version: blob.properties.etag },
  };
}

/** The SDK hands a page's blobs and folders back as two lists; the service had them interleaved by name. */
function mergeByName(a: Entry[], b: Entry[]): Entry[] {
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
