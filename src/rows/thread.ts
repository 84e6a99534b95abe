// Kept rows are written on a thread of their own (rows/worker.ts) rather than on the main thread.
//
// The main thread of an ingest lists, leases, commits and hands the parser threads their work; while
// it is busy they wait. Here a pass's rows cost it a message: DuckDB loads on the writer's thread,
// the rows' buffers move there (transferred, not copied), and its answer names the files written.
// With the larger groups of kept rows (tasks/azure-logs), in four sets of 8-10 alternating runs of
// the rows benchmark, the cost of --keep-rows fell by 0 to 12 points (+38 % to +27 % at best); the
// machine's noise is about 5 points. The thread adds ~30 MB to the peak RSS.
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { workerUrl } from '../bundle.js';
import type { RowBatchData } from './batch.js';
import { COMPACT_AT, countPassFiles } from './compact.js';
import type { PassId, PassRows } from './writer.js';

/** What the ingest task asks of a rows writer, wherever it runs (rows/writer.ts does the work). */
export interface RowsSink {
  /** Writes a pass's rows as a file per day; each item's files, relative to the rows folder. */
  write(pass: PassId, parts: PassRows[]): Promise<Map<string, string[]>>;
  /** Merges small committed files a file per day when there are many; how many were merged. */
  compact(committed: () => Promise<string[]>, at?: number): Promise<number>;
  close(): void | Promise<void>;
}

export interface RowsThreadData {
  dir: string;
  writers: number;
}

export type RowsRequest =
  | { op: 'open' }
  | { op: 'write'; pass: PassId; parts: PassRows[] }
  | { op: 'compact'; files: string[]; at: number }
  | { op: 'close' };

/** A write's files per item, a merge's count, or nothing (open, close). */
export type RowsValue = [string, string[]][] | number | null;

/** The buffers of a batch's columns, each once (a second mention of one in a transfer list throws). */
function buffersOf(batch: RowBatchData, into: Set<ArrayBuffer>): void {
  const columns = [batch.line, batch.time, batch.day, batch.status, batch.statusClass, batch.durationMs];
  for (const column of [...columns, ...Object.values(batch.named)]) {
    if (column.buffer instanceof ArrayBuffer) into.add(column.buffer);
  }
}

export class RowsWriterThread implements RowsSink {
  private closed = false;

  private constructor(
    /** The job's rows folder. */
    readonly dir: string,
    /** One thread: one DuckDB, whose connections write several passes at once. */
    private readonly pool: Piscina<RowsRequest, RowsValue>,
  ) {}

  /**
   * Starts the thread, which loads DuckDB while the run lists and parses. `writers`: passes written
   * at once (RowsWriter.open). If the thread dies, what it held fails (those passes parse again)
   * and the pool starts another.
   */
  static async open(dir: string, writers = Math.max(2, availableParallelism())): Promise<RowsWriterThread> {
    const { Piscina } = await import('piscina');
    const data: RowsThreadData = { dir, writers };
    const pool = new Piscina<RowsRequest, RowsValue>({
      filename: workerUrl(import.meta.url, 'rows-worker').href,
      workerData: data,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: writers,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Its requests are few and wait on DuckDB: the thread sleeps in its event loop between them,
      // not in Atomics.wait, which would hold up the answers DuckDB's threads post to it.
      atomics: 'disabled',
    });
    // What belongs to no request (a thread that failed while idle) has nobody to tell: the next
    // request starts a new thread, and fails if DuckDB cannot load there either.
    pool.on('error', () => {});
    const thread = new RowsWriterThread(dir, pool);
    thread.ask({ op: 'open' }).catch(() => {}); // DuckDB loads now; a failure shows on the first write
    return thread;
  }

  /**
   * The batches' buffers move to the writer's thread: `parts` must not be used after this call
   * (nothing does: a pass's rows are written once, and a failed pass parses again).
   */
  async write(pass: PassId, parts: PassRows[]): Promise<Map<string, string[]>> {
    const buffers = new Set<ArrayBuffer>();
    for (const part of parts) buffersOf(part.batch, buffers);
    const value = await this.ask({ op: 'write', pass, parts }, [...buffers]);
    return new Map(value as [string, string[]][]);
  }

  async compact(committed: () => Promise<string[]>, at = COMPACT_AT): Promise<number> {
    if ((await countPassFiles(this.dir)) < at) return 0;
    return (await this.ask({ op: 'compact', files: await committed(), at })) as number;
  }

  /** Closes DuckDB on its thread, then the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.ask({ op: 'close' }).catch(() => {});
    this.closed = true;
    await this.pool.destroy();
  }

  private async ask(request: RowsRequest, transferList: ArrayBuffer[] = []): Promise<RowsValue> {
    if (this.closed) throw new Error('rows: the writer is closed');
    try {
      return await this.pool.run(request, { transferList });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(message.startsWith('rows:') ? message : `rows: the writer thread failed: ${message}`, {
        cause: error,
      });
    }
  }
}
