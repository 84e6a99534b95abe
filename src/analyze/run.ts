// Runs an analysis over files: each file read and analysed on its own (its own Drain state) on a
// pool of worker threads when there are several, then combined; `--structured` rows are spooled
// per file while reading and written with their final, merged template at the end, so memory does
// not grow with the input.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { workerUrl } from '../bundle.js';
import { type Combined, combine } from './combine.js';
import { ANALYZE_DEFAULTS, type AnalyzeOptions, type FileSummary } from './file-analyzer.js';
import { type InputFile, MAX_LINE_BYTES } from './input.js';
import { mergeSegments, planSegments, segmentable, segmentsFor } from './segments.js';
import analyzeFileJob, { type FileJob } from './worker.js';

export interface RunOptions extends AnalyzeOptions {
  maxLineBytes: number;
  /** Where to write one CSV row per event, if anywhere. */
  structured?: string;
  topTemplates?: number;
  /**
   * Worker threads across files; 0 analyses on the main thread. `auto` (the default) uses up to 4
   * (the cores, if fewer) when the files hold at least WORKERS_FROM_BYTES, where threads pay off.
   */
  workers?: number | 'auto';
}

export const STRUCTURED_COLUMNS = ['file', 'line', 'time', 'level', 'template_id', 'template', 'message'];

export const AUTO_WORKERS = Math.min(4, os.availableParallelism());
export const WORKERS_FROM_BYTES = 64e6;

async function threadsFor(files: readonly InputFile[], workers: number | 'auto'): Promise<number> {
  const local = files.filter((f) => f.path !== '-' && !f.blob);
  let bytes = 0;
  // What can run at once: a file, or each segment of a file read in segments.
  let parts = 0;
  for (const file of local) {
    const size = (await stat(file.path).catch(() => ({ size: 0 }))).size;
    bytes += size;
    parts += segmentable({ file, spool: null }) ? segmentsFor(size) : 1;
  }
  if (workers !== 'auto') return Math.min(workers, parts);
  return bytes >= WORKERS_FROM_BYTES ? Math.min(AUTO_WORKERS, parts) : 0;
}

/** Files read at once on the main thread (their I/O overlaps; their parsing does not). */
const INLINE_FILES_AT_ONCE = 4;

/** `fn` over `items`, at most `limit` at a time, results in the items' order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Runs file jobs: on a pool of worker threads when the files are worth it, else on this thread. */
export interface FileRunner {
  /** Files worth running at once. */
  readonly concurrency: number;
  run(job: FileJob): Promise<FileSummary>;
  close(): Promise<void>;
}

export async function fileRunner(files: readonly InputFile[], workers: number | 'auto'): Promise<FileRunner> {
  const threads = await threadsFor(files, workers);
  // The built worker; under tsx (tests of the core) there is none and files run inline.
  const worker = workerUrl(import.meta.url, 'analyze-worker');
  // The pool (and later the CSV writer) is loaded only when used: a run on one file starts sooner.
  const pool =
    threads >= 2 && import.meta.url.endsWith('.js')
      ? new (await import('piscina')).Piscina<FileJob, FileSummary>({
          filename: worker.href,
          minThreads: threads,
          maxThreads: threads,
        })
      : null;
  // Standard input and blobs (their source lives here) are read on this thread.
  const runOne = (job: FileJob) =>
    pool && job.file.path !== '-' && !job.file.blob ? pool.run(job) : analyzeFileJob(job);
  return {
    concurrency: pool ? threads * 2 : INLINE_FILES_AT_ONCE,
    run: async (job) => {
      // A large file is read in segments, at once on the pool (one after another without one):
      // the same segments either way, so the same result.
      const plan = await planSegments(job);
      if (!plan) return runOne(job);
      const options = { ...job.options, format: plan.format };
      const jobs = plan.segments.map((segment) => ({ ...job, options, segment }));
      const parts = await mapLimit(jobs, pool ? jobs.length : 1, runOne);
      return mergeSegments(job, plan.format, parts);
    },
    close: async () => {
      await pool?.destroy();
    },
  };
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

export async function analyzeInputs(
  files: InputFile[],
  partial: Partial<RunOptions> = {},
): Promise<Combined> {
  const options: RunOptions = { ...ANALYZE_DEFAULTS, maxLineBytes: MAX_LINE_BYTES, ...partial };
  const spoolDir = options.structured ? await mkdtemp(path.join(os.tmpdir(), 'sluice-analyze-')) : null;
  const analyzeOptions: AnalyzeOptions = {
    format: options.format,
    rules: options.rules,
    slowMs: options.slowMs,
    drain: options.drain,
    year: options.year,
  };
  const jobs: FileJob[] = files.map((file, index) => ({
    file,
    options: analyzeOptions,
    maxLineBytes: options.maxLineBytes,
    spool: spoolDir ? path.join(spoolDir, `${index}.jsonl`) : null,
  }));
  const runner = await fileRunner(files, options.workers ?? 'auto');
  try {
    // A few files at a time: a folder of 100,000 files must not open 100,000 streams at once.
    const summaries = await mapLimit(jobs, runner.concurrency, (job) => runner.run(job));
    const combined = combine(summaries, {
      slowMs: options.slowMs,
      drain: options.drain,
      ...(options.topTemplates !== undefined ? { topTemplates: options.topTemplates } : {}),
    });
    if (options.structured) await writeStructured(jobs, options.structured, combined);
    return combined;
  } finally {
    await runner.close();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
}

async function writeStructured(jobs: FileJob[], target: string, combined: Combined): Promise<void> {
  const { stringify } = await import('csv-stringify/sync');
  const out = target === '-' ? process.stdout : createWriteStream(target);
  await write(out, stringify([STRUCTURED_COLUMNS]));
  for (const [index, job] of jobs.entries()) {
    if (!job.spool) continue;
    const lines = createInterface({
      input: createReadStream(job.spool),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let batch: unknown[][] = [];
    for await (const text of lines) {
      const [line, time, level, cluster, message] = JSON.parse(text) as [
        number,
        string | null,
        string | null,
        number,
        string,
      ];
      const template = combined.templateOf(index, cluster);
      batch.push([
        job.file.path,
        line,
        time ?? '',
        level ?? '',
        template?.id ?? '',
        template?.template ?? '',
        message,
      ]);
      if (batch.length >= 1000) {
        await write(out, stringify(batch));
        batch = [];
      }
    }
    if (batch.length > 0) await write(out, stringify(batch));
  }
  if (out !== process.stdout) {
    (out as ReturnType<typeof createWriteStream>).end();
    await once(out, 'close');
  }
}
