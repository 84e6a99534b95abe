// The Azure Blob Storage source: lists Azure Monitor log blobs by time window and streams them resumably.
import type { Readable } from 'node:stream';
import { ItemError } from '../../errors.js';
import type { ItemRef, ListingStats, ListOptions, Source } from '../types.js';
import { type BlobAddress, parseBlobAddress } from './address.js';
import { containerClientFor, type HttpOptions } from './client.js';
import { type BlobAccess, type CredentialOptions, resolveAccess } from './credential.js';
import { openBlobStream } from './download.js';
import { explainFatal, unreachable, type Where } from './fatal.js';
import { listBlobs } from './list.js';
import type { ListingContainerClient } from './page.js';
import {
  classifyFailure,
  DEFAULT_RETRY,
  describeFailure,
  observeRequests as observeAllRequests,
  type RequestObservation,
  type RetryOptions,
  requestStats,
  withRetry,
} from './retry.js';

export { isBlobAddress, parseBlobAddress } from './address.js';
export { closeBlobClients } from './client.js';
export { configureAzureLogging } from './logging.js';
export { redact } from './redact.js';
export { type RequestStats, requestStats, resetRequestStats } from './retry.js';

export interface AzureSourceOptions extends CredentialOptions, HttpOptions {
  /** Longest one request may wait for an answer, and a download for its next byte. Default 30 s. */
  tryTimeoutMs?: number;
  /** Backoff and budget; `random` and `sleep` are for tests. Defaults: 6 tries, 200 ms base, 30 s cap. */
  retry?: Partial<RetryOptions>;
  /** Names per list request (service maximum 5000). */
  pageSize?: number;
}

/** The open-time check gets a short budget: a wrong host or a dead emulator should fail in seconds. */
const PROBE_RETRY = { maxTries: 3, baseMs: 100, capMs: 1000, tryTimeoutMs: 10_000 };

export class BlobSource implements Source {
  readonly uri: string;
  /** Cumulative over every `list` call of this source. */
  readonly stats: ListingStats = { foldersOpened: 0, itemsListed: 0, foldersPruned: 0 };
  private readonly where: Where;

  constructor(
    readonly address: BlobAddress,
    readonly access: BlobAccess,
    private readonly container: ListingContainerClient,
    private readonly retry: RetryOptions,
    private readonly pageSize = 5000,
  ) {
    this.uri = address.uri;
    this.where = { address, access };
  }

  async *list(options: ListOptions = {}): AsyncGenerator<ItemRef> {
    try {
      yield* listBlobs({
        container: this.container,
        prefix: this.address.prefix,
        window: options.window,
        after: options.after,
        pageSize: this.pageSize,
        retry: this.retry,
        stats: this.stats,
        signal: options.signal,
      });
    } catch (error) {
      throw explainFatal(error, this.where) ?? asItemError(error, `listing ${this.uri}`);
    }
  }

  open(id: string, start: number, signal?: AbortSignal): Promise<Readable> {
    return openBlobStream({
      container: this.container,
      name: id,
      start,
      retry: this.retry,
      signal,
      fatal: (error) => explainFatal(error, this.where, Date.now(), 'read'),
    });
  }

  requestCounters(): Record<string, number> {
    return { ...requestStats };
  }

  observeRequests(listener: (o: RequestObservation) => void): () => void {
    return observeAllRequests(listener);
  }

  /** The client and its sockets are shared by the process (see client.ts), so there is nothing to close here. */
  async close(): Promise<void> {}

  /** Lists one name under the prefix so a bad key, SAS, container or host fails now, not on the first item. */
  async probe(): Promise<void> {
    const retry = {
      ...this.retry,
      ...PROBE_RETRY,
      tryTimeoutMs: Math.min(this.retry.tryTimeoutMs, PROBE_RETRY.tryTimeoutMs),
    };
    try {
      await withRetry({ what: `listing ${this.uri}`, options: retry, isList: true }, (abortSignal) =>
        this.container.listPage({ prefix: this.address.prefix, maxResults: 1, abortSignal }),
      );
    } catch (error) {
      const fatal = explainFatal(error, this.where);
      if (fatal) throw fatal;
      if (error instanceof ItemError) throw unreachable(error, this.where);
      throw asItemError(error, `listing ${this.uri}`);
    }
  }
}

function asItemError(error: unknown, what: string): Error {
  if (error instanceof ItemError) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new ItemError(`${what}: ${describeFailure(classifyFailure(error))}`, false);
}

/**
 * Opens `azure://account/container/prefix` or an http(s) blob URL, with credentials chosen as in
 * credential.ts, and checks the container can be listed before returning (`UsageError` when it cannot).
 */
export async function openAzureSource(uri: string, options: AzureSourceOptions = {}): Promise<BlobSource> {
  const address = parseBlobAddress(uri);
  const access = resolveAccess(address, options);
  const retry: RetryOptions = {
    ...DEFAULT_RETRY,
    ...options.retry,
    tryTimeoutMs: options.tryTimeoutMs ?? options.retry?.tryTimeoutMs ?? DEFAULT_RETRY.tryTimeoutMs,
  };
  const source = new BlobSource(
    address,
    access,
    await containerClientFor(access, address.container, options),
    retry,
    options.pageSize,
  );
  await source.probe();
  return source;
}
