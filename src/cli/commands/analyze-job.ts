// `sluice analyze --store`: the files as a job of the engine loop (see src/tasks/analyze/): each
// file's analysis committed with it, so a run stopped midway (Ctrl-C, a crash, kill -9) resumes
// with the files it had not finished, and a later run analyses only new and changed files.
import { createHash } from 'node:crypto';
import type { Analysis } from '../../analyze/combine.js';
import type { AnalyzeOptions } from '../../analyze/file-analyzer.js';
import type { InputFile } from '../../analyze/input.js';
import { RULES } from '../../analyze/rules.js';
import { leaseOwner, runJob } from '../../engine/loop.js';
import { EXIT, UsageError } from '../../errors.js';
import { isBlobAddress, parseBlobAddress } from '../../sources/azure/address.js';
import { openStore } from '../../store/index.js';
import { analysisOfJob, analyzeListing, createAnalyzeTask } from '../../tasks/analyze/index.js';
import { combineOptionsOf } from '../../tasks/analyze/report.js';
import { count } from '../format.js';
import { progressMode, progressReporter } from '../progress.js';
import type { AnalyzeCliOptions } from './analyze.js';

/**
 * What defines an analyze job besides its files: every option that changes a file's result. A
 * later run with other options is refused (another --job, or another store, keeps both).
 */
export function analyzeJobFilters(
  options: AnalyzeOptions & { maxLineBytes: number },
): Record<string, unknown> {
  const own = options.rules.filter((r) => !RULES.includes(r));
  return {
    logFormat: options.format,
    slowMs: options.slowMs,
    similarity: options.drain.similarity,
    depth: options.drain.depth,
    maxLineBytes: options.maxLineBytes,
    ...(own.length > 0
      ? {
          rules: createHash('sha256')
            .update(
              JSON.stringify(
                own.map((r) => [r.name, r.category, r.severity, r.pattern.source, r.pattern.flags, r.advice]),
              ),
            )
            .digest('hex')
            .slice(0, 16),
        }
      : {}),
  };
}

/** Runs the job; its analysis, or undefined when it was interrupted (process.exitCode says so). */
export async function analyzeAsJob(
  paths: string[],
  files: InputFile[],
  options: AnalyzeOptions & { maxLineBytes: number; workers: number | 'auto'; structured?: string },
  opts: AnalyzeCliOptions,
): Promise<Analysis | undefined> {
  if (opts.follow) throw new UsageError('--follow reads as files grow, not as a job: leave out --store');
  if (options.structured) {
    throw new UsageError(
      '--structured writes every event of every file, and a resumed job does not read the files done before: leave out --store',
    );
  }
  if (files.some((f) => f.path === '-')) {
    throw new UsageError(
      'standard input (-) cannot be resumed: leave out --store, or save it to a file first',
    );
  }
  const filters = analyzeJobFilters(options);
  // Named as printed: a blob URL's SAS never reaches the store.
  const named = paths.map((p) => (isBlobAddress(p) ? parseBlobAddress(p).uri : p)).join(' ');
  const job = opts.job ?? `analyze:${named}`;
  const reporter = progressReporter(progressMode(undefined, process.stderr), process.stderr);
  const task = await createAnalyzeTask(files, options, options.maxLineBytes, options.workers);
  const store = await openStore(opts.store).catch(async (error) => {
    await task.close();
    throw error;
  });
  const stop = new AbortController();
  const hard = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) hard.abort();
    else {
      reporter.say(
        `${signal}: finishing the files in hand; the same command resumes (${signal} again to stop now)`,
      );
      stop.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await store.openJob({ name: job, source: `files:${named}`, task: task.name, filters });
    const summary = await runJob({
      store,
      job,
      task,
      listing: analyzeListing(named, files),
      owner: leaseOwner(),
      concurrency: task.concurrency,
      maxAttempts: 2,
      signal: stop.signal,
      hardSignal: hard.signal,
      onEvent: (event) => reporter.onEvent(event),
    });
    reporter.finish();
    const { items } = summary.status;
    reporter.say(
      `job "${job}": ${count(items.done)} of ${count(items.total)} files analysed (${count(summary.processed)} in this run)${items.failed > 0 ? `, ${count(items.failed)} failed` : ''}`,
    );
    if (summary.outcome === 'interrupted') {
      process.exitCode = EXIT.interrupted;
      return undefined;
    }
    if (items.failed > 0) process.exitCode = EXIT.failedItems;
    return await analysisOfJob(store, job, combineOptionsOf(filters));
  } finally {
    reporter.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await task.close();
    await store.close().catch(() => {});
  }
}
