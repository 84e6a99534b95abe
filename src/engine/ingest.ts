// Ingest: a source's listing, the engine loop and the azure-logs task. Everything a run does
// beyond listing blobs (claims, leases, retries, commits, stopping) is the loop's.
import type { Source } from '../sources/types.js';
import type { TimeWindow } from '../sources/window.js';
import type { NewItem } from '../store/types.js';
import { type EngineOptions, type Listing, type RunSummary, runJob } from './loop.js';

export interface IngestOptions
  extends Omit<EngineOptions, 'listing' | 'observeRequests' | 'requestCounters'> {
  source: Source;
  window?: TimeWindow;
  /** Which listed ids are items (e.g. a glob matcher); all when absent. */
  include?: (id: string) => boolean;
}

/** A source's items as the loop lists them: filtered, resumable after the last id stored. */
export function sourceListing(
  source: Source,
  filter: { window?: TimeWindow; include?: (id: string) => boolean } = {},
): Listing {
  return {
    uri: source.uri,
    async *list(after: string | undefined, signal: AbortSignal): AsyncIterable<NewItem> {
      for await (const ref of source.list({
        ...(filter.window ? { window: filter.window } : {}),
        ...(after !== undefined ? { after } : {}),
        signal,
      })) {
        if (filter.include && !filter.include(ref.id)) continue;
        yield ref.version === undefined
          ? { id: ref.id, size: ref.size }
          : { id: ref.id, size: ref.size, version: ref.version };
      }
    },
  };
}

export async function ingest(options: IngestOptions): Promise<RunSummary> {
  const { source, window, include, ...engine } = options;
  return runJob({
    ...engine,
    listing: sourceListing(source, { ...(window ? { window } : {}), ...(include ? { include } : {}) }),
    ...(source.observeRequests
      ? { observeRequests: (l) => (source.observeRequests as NonNullable<Source['observeRequests']>)(l) }
      : {}),
    ...(source.requestCounters ? { requestCounters: () => source.requestCounters?.() ?? {} } : {}),
  });
}
