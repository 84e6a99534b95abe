// The analyze task: one log file (or blob) per item, its analysis (a FileSummary: plain data that
// merges) kept in the store as the item's result, committed with the item. A job's analysis is
// the combination of its done items' results, so a run that stops midway resumes with the files
// it had not finished, a file that changed is analysed again (its old result replaced, never
// added twice), and `sluice report` shows the analysis of a job at any time.
import { stat } from 'node:fs/promises';
import type { Analysis } from '../../analyze/combine.js';
import { combine } from '../../analyze/combine.js';
import type { DrainOptions } from '../../analyze/drain.js';
import type { AnalyzeOptions, FileSummary } from '../../analyze/file-analyzer.js';
import type { InputFile } from '../../analyze/input.js';
import { type FileRunner, fileRunner } from '../../analyze/run.js';
import type { Listing } from '../../engine/loop.js';
import type { Json, NewItem, Store } from '../../store/types.js';
import type { Task } from '../types.js';

/** How a job's results are combined: what `analyze` was given (kept in the job's filters). */
export interface CombineOptions {
  slowMs: number;
  drain: DrainOptions;
  topTemplates?: number;
}

/** The files as items: id = the path as reports show it; version = size and mtime, or the blob's ETag. */
export function analyzeListing(uri: string, files: readonly InputFile[]): Listing {
  return {
    uri,
    async *list(after) {
      let skipping = after !== undefined;
      for (const file of files) {
        if (skipping) {
          if (file.path === after) skipping = false;
          continue;
        }
        yield await itemOf(file);
      }
      // The cursor's file is gone: everything is listed again (the store keeps what it has).
      if (skipping) for (const file of files) yield await itemOf(file);
    },
  };
}

async function itemOf(file: InputFile): Promise<NewItem> {
  if (file.blob) {
    return { id: file.path, size: file.size ?? 0, ...(file.version ? { version: file.version } : {}) };
  }
  const info = await stat(file.path).catch(() => null);
  return info
    ? { id: file.path, size: info.size, version: `${info.size}:${Math.trunc(info.mtimeMs)}` }
    : { id: file.path, size: 0 };
}

export interface AnalyzeTask extends Task {
  /** Files analysed at once: the worker threads, or a few on the main thread. */
  readonly concurrency: number;
}

/** The task over `files` (the listing's): each item's file read and analysed, on worker threads when worth it. */
export async function createAnalyzeTask(
  files: readonly InputFile[],
  options: AnalyzeOptions,
  maxLineBytes: number,
  workers: number | 'auto',
): Promise<AnalyzeTask> {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const runner: FileRunner = await fileRunner(files, workers);
  return {
    name: 'analyze',
    concurrency: runner.concurrency,
    async run(item) {
      const file = byPath.get(item.id) ?? { path: item.id };
      const summary = await runner.run({ file, options, maxLineBytes, spool: null });
      // A changed file is analysed whole again and its result replaces the last; the job's counts
      // add only the difference (the checkpoint remembers what the last pass counted).
      const before = (item.checkpoint as { events?: number; bytes?: number } | null) ?? {};
      return {
        checkpoint: { events: summary.events, bytes: item.size },
        covered: item.size,
        records: summary.events - (before.events ?? 0),
        bytes: item.size - (before.bytes ?? 0),
        result: toStoredJson(summary),
      };
    },
    close: () => runner.close(),
  };
}

/**
 * A summary as JSON, which has no NaN or infinity: a training run's NaN loss is what it reports,
 * so such numbers are kept as {"$number": "NaN"} and read back by fromStoredJson.
 */
function toStoredJson(value: unknown): Json {
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $number: String(value) };
  if (Array.isArray(value)) return value.map(toStoredJson);
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = toStoredJson(v);
    return out;
  }
  return value as Json;
}

function fromStoredJson(value: Json): unknown {
  if (Array.isArray(value)) return value.map(fromStoredJson);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$number') return Number(value.$number);
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, fromStoredJson(v)]));
  }
  return value;
}

/** Results read from the store per page. */
const PAGE = 500;

/**
 * The job's analysis: every done item's result combined (in id order), and the failed items
 * listed with their errors among the skipped files.
 */
export async function analysisOfJob(store: Store, job: string, options: CombineOptions): Promise<Analysis> {
  const summaries: FileSummary[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listItems(job, {
      state: 'done',
      limit: PAGE,
      ...(after === undefined ? {} : { after }),
    });
    for (const item of page) if (item.result) summaries.push(fromStoredJson(item.result) as FileSummary);
    if (page.length < PAGE) break;
    after = page.at(-1)?.id;
  }
  const { analysis } = combine(summaries, options);
  const status = await store.status(job);
  for (const failure of status.failures) {
    analysis.skipped.files.push({ path: failure.id, reason: `failed: ${failure.error}` });
  }
  return analysis;
}
