// Streams one blob from a byte offset to its end, resuming from the byte reached when a download breaks.
import { Readable } from 'node:stream';
import { ItemError, UsageError } from '../../errors.js';
import type { BlobRange, ListingContainerClient } from './page.js';
import {
  classifyFailure,
  describeFailure,
  RetryBudget,
  type RetryOptions,
  reportTry,
  requestStats,
  TryTimer,
} from './retry.js';

export interface BlobRead {
  container: ListingContainerClient;
  name: string;
  start: number;
  retry: RetryOptions;
  signal?: AbortSignal;
  /** Recognises failures no retry can fix (see fatal.ts). */
  fatal: (error: unknown) => UsageError | undefined;
}

interface Try {
  response: BlobRange;
  timer: TryTimer;
}

/**
 * Opens `name` at `start` and streams to the end the blob had when the first response came (a growing
 * append blob is read to that length; the next run reads what was appended since, from there).
 *
 * A download that breaks mid-body (reset, stall past the per-try timeout) resumes from the byte reached
 * rather than restarting the item: the bytes already passed downstream cannot be taken back, and a large
 * blob on a flaky link would otherwise never finish. Resuming is safe because the range is pinned: block
 * blobs resume with If-Match on the first ETag (a replaced blob fails the item transiently, to be read again
 * whole), append blobs resume unconditionally since appends never change bytes already written. Memory is a
 * chunk or two: bytes flow as the consumer pulls them, and the stall clock only runs while waiting on the
 * network, never while the consumer is busy.
 */
export async function openBlobStream(read: BlobRead): Promise<Readable> {
  const { name, start, retry, signal } = read;
  const budget = new RetryBudget(`reading blob ${name}`, retry, signal);
  const first = await requestRange(read, budget, start, undefined, undefined);
  if (!first) return Readable.from([], { objectMode: false });
  const end = start + (first.response.contentLength ?? 0);
  const etag = first.response.etag;
  const resumeIfMatch = first.response.blobType === 'AppendBlob' ? undefined : etag;

  let current = first;
  let closed = false;
  async function* pump(): AsyncGenerator<Buffer> {
    let reached = start;
    try {
      for (;;) {
        const body = current.response.body;
        const timer = current.timer;
        const onStall = () => body.destroy(new Error(`download stalled for ${retry.tryTimeoutMs} ms`));
        timer.signal.addEventListener('abort', onStall, { once: true });
        try {
          const chunks = body[Symbol.asyncIterator]();
          for (;;) {
            timer.restart();
            const next = await chunks.next();
            timer.pause();
            if (next.done) break;
            const chunk = next.value as Buffer;
            reached += chunk.length;
            budget.progressed();
            yield chunk;
          }
          timer.finish();
          // A body that ends cleanly but short (a connection closed early) is caught here.
          if (reached >= end) return;
          throw new Error(`received less data than required: ${reached - start} of ${end - start} bytes`);
        } catch (error) {
          timer.finish(true);
          body.destroy();
          if (closed || signal?.aborted || error instanceof ItemError) throw error;
          await failed(budget, error, timer.timedOut(), name);
          requestStats.resumes++;
          const resumed = await requestRange(read, budget, reached, end - reached, resumeIfMatch);
          if (!resumed)
            throw new ItemError(`blob ${name} became shorter while being read; read it again`, true);
          current = resumed;
        } finally {
          timer.signal.removeEventListener('abort', onStall);
        }
      }
    } finally {
      current.timer.finish(true);
      current.response.body.destroy();
    }
  }

  const out = Readable.from(pump(), { objectMode: false });
  // A consumer that stops early must not leave a download (or a retry) running behind it.
  out.once('close', () => {
    closed = true;
    current.timer.finish(true);
  });
  return out;
}

/** One ranged GET, retried within the budget until it answers; undefined when nothing lies at `offset`. */
async function requestRange(
  read: BlobRead,
  budget: RetryBudget,
  offset: number,
  count: number | undefined,
  ifMatch: string | undefined,
): Promise<Try | undefined> {
  for (;;) {
    if (read.signal?.aborted) throw read.signal.reason;
    requestStats.requests++;
    const timer = new TryTimer(read.retry.tryTimeoutMs, read.signal);
    const startedAt = Date.now();
    try {
      const response = await read.container.getRange(read.name, {
        offset,
        ...(count === undefined ? {} : { count }),
        ...(ifMatch ? { ifMatch } : {}),
        abortSignal: timer.signal,
      });
      timer.pause();
      reportTry(startedAt, `reading ${read.name} from ${offset}`); // time to the response headers: the service's latency
      return { response, timer };
    } catch (error) {
      timer.finish(true);
      const failure = classifyFailure(error, timer.timedOut());
      reportTry(startedAt, `reading ${read.name} from ${offset}`, failure);
      // 416: `offset` is at or past the end, so there is nothing new to read.
      if (failure.status === 416) return undefined;
      const fatal = read.fatal(error);
      if (fatal) throw fatal;
      if (failure.status === 404) {
        throw new ItemError(
          `blob ${read.name} does not exist (any more): ${describeFailure(failure)}`,
          false,
        );
      }
      if (failure.status === 412) {
        throw new ItemError(
          `blob ${read.name} was replaced while being read; read it again from the start`,
          true,
        );
      }
      await failed(budget, error, timer.timedOut(), read.name);
    }
  }
}

/** Spends one retry from the budget, or fails the item: transient when the budget ran out, permanent otherwise. */
async function failed(budget: RetryBudget, error: unknown, timedOut: boolean, name: string): Promise<void> {
  try {
    await budget.failed(error, timedOut);
  } catch (final) {
    if (final instanceof ItemError || final instanceof UsageError) throw final;
    if (final !== error) throw final; // the caller's abort reason
    throw new ItemError(`reading blob ${name}: ${describeFailure(classifyFailure(error))}`, false);
  }
}
