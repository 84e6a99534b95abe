// `sluice ingest <source>`: list, parse and aggregate every log blob into the store, resumably.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import picomatch from 'picomatch';
import { Governor } from '../../engine/governor/index.js';
import { tightenHeap } from '../../engine/heap.js';
import { ingest } from '../../engine/ingest.js';
import type { RunSummary } from '../../engine/loop.js';
import { parsePartition, partitionOf } from '../../engine/partition.js';
import { EXIT, UsageError } from '../../errors.js';
import { committedRows } from '../../rows/committed.js';
import { defaultRowsDir } from '../../rows/paths.js';
import type { RowsSink } from '../../rows/thread.js';
import { openSource } from '../../sources/index.js';
import { DEFAULT_STORE, isPostgresUrl, openStore, STORE_HELP } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { createAzureLogsTask } from '../../tasks/azure-logs/index.js';
import { noScanner, SCANNER_PATH, scanner } from '../../tasks/azure-logs/native.js';
import { bytes, count, duration, shellQuote } from '../format.js';
import { ListingWatch } from '../listing.js';
import { PROGRESS_MODES, progressMode, progressReporter } from '../progress.js';
import { defaultJobName } from './job.js';
import {
  formatOf,
  glob,
  intIn,
  LIMITS,
  leaseTtl,
  partitionText,
  percent,
  sizeIn,
  windowOption,
} from './options.js';

export const DEFAULT_INCLUDE = '**/PT1H.json';

const ROWS_DIR_NEEDED =
  '--keep-rows with a PostgreSQL store needs --rows-dir <dir>: a folder every worker of the job can write to (a shared volume)';

export interface IngestCliOptions {
  store: string;
  job?: string;
  from?: string;
  to?: string;
  include: string;
  partition?: string;
  concurrency?: number;
  maxConcurrency: number;
  memoryThreshold: number;
  threads?: number;
  maxLineSize?: number;
  maxAttempts: number;
  retryDelay: number;
  retryFailed?: boolean;
  recount?: boolean;
  leaseTtl: number;
  progress?: string;
  connectionString?: string;
  verbose?: boolean;
  keepRows?: boolean;
  rowsDir?: string;
}

/** Runs one ingest as the CLI does (signals, progress, summary) and returns its exit code. */
export async function runIngest(
  location: string,
  opts: IngestCliOptions,
): Promise<{ code: number; summary: RunSummary; job: string }> {
  const window = windowOption(opts.from, opts.to);
  const partition = opts.partition ? parsePartition(opts.partition) : undefined;
  const listing = new ListingWatch(picomatch(opts.include, { dot: true }));
  const matches = listing.include;
  const include = partition
    ? (id: string) => matches(id) && partitionOf(id, partition.count) === partition.index
    : (id: string) => matches(id);

  if (opts.rowsDir !== undefined && !opts.keepRows) {
    throw new UsageError(
      '--rows-dir is where --keep-rows writes: give --keep-rows too, or leave --rows-dir out',
    );
  }
  if (opts.keepRows && opts.rowsDir === undefined && isPostgresUrl(opts.store)) {
    throw new UsageError(ROWS_DIR_NEEDED);
  }

  tightenHeap();
  // The source's open (a list request that checks the credential) and a PostgreSQL store's (a connection
  // and its migrations) are both round trips: made at once, a worker starts sooner. A SQLite store opens
  // only once the source did, so a mistyped source leaves no new file behind.
  const sourceOpening = openSource(location, {
    ...(opts.connectionString ? { connectionString: opts.connectionString } : {}),
    verbose: Boolean(opts.verbose),
    // A socket pool smaller than the limit would queue requests inside the HTTP agent, where the
    // governor reads the wait as the service's latency and cuts for it. One more for the listing.
    maxSockets: (opts.concurrency ?? opts.maxConcurrency) + 1,
  });
  const [opened, storeOpened] = await Promise.allSettled([
    sourceOpening,
    isPostgresUrl(opts.store) ? openStore(opts.store) : sourceOpening.then(() => openStore(opts.store)),
  ]);
  if (opened.status === 'rejected' || storeOpened.status === 'rejected') {
    if (opened.status === 'fulfilled') await opened.value.close();
    if (storeOpened.status === 'fulfilled') await storeOpened.value.close();
    throw opened.status === 'rejected' ? opened.reason : (storeOpened as PromiseRejectedResult).reason;
  }
  const source = opened.value;
  const store = storeOpened.value;
  // Adaptive unless the user fixed the number: then exactly that many items run at once.
  const governor =
    opts.concurrency === undefined
      ? new Governor({
          maxConcurrency: opts.maxConcurrency,
          initialLimit: Math.min(16, opts.maxConcurrency),
          memoryThreshold: opts.memoryThreshold / 100,
          // Bulk ingestion wants throughput: grow while latency stays within 1.5x its baseline
          // (as Netflix's Gradient2); storage says 503 ServerBusy when it is truly overloaded.
          latencyTolerance: 0.5,
        })
      : undefined;
  const filters: Record<string, unknown> = {};
  if (opts.from) filters.from = opts.from;
  if (opts.to) filters.to = opts.to;
  if (opts.include !== DEFAULT_INCLUDE) filters.include = opts.include;
  if (partition) filters.partition = `${partition.index}/${partition.count}`;
  const job = opts.job ?? defaultJobName(source.uri, filters);
  /** The rows writer, opening on its own thread while the run starts (DuckDB takes a while to load). */
  let writer: Promise<RowsSink> | undefined;
  if (opts.keepRows) {
    // Rows are not part of the job's identity: the same job may keep them from some run on.
    const dir = opts.rowsDir ?? defaultRowsDir(store.location, job);
    if (dir === null) {
      await store.close();
      await source.close();
      throw new UsageError(ROWS_DIR_NEEDED);
    }
    await mkdir(dir, { recursive: true })
      .then(() => access(dir, constants.W_OK))
      .catch(async (error: NodeJS.ErrnoException) => {
        await store.close();
        await source.close();
        throw new UsageError(`cannot write rows to ${dir}: ${error.code ?? error.message} (--rows-dir)`);
      });
    // DuckDB loads only for kept rows, on the writer's thread, while the run lists and parses.
    writer = import('../../rows/thread.js').then(({ RowsWriterThread }) => RowsWriterThread.open(dir));
    writer.catch(() => {}); // awaited by the first write, and at the end
  }
  const task = createAzureLogsTask(source, {
    ...(opts.threads === undefined ? {} : { threads: opts.threads }),
    ...(opts.maxLineSize === undefined ? {} : { maxLineBytes: opts.maxLineSize }),
    // A folder given is recorded in each checkpoint, so `query` finds it without --rows.
    ...(writer ? { rows: { writer, ...(opts.rowsDir ? { dir: path.resolve(opts.rowsDir) } : {}) } } : {}),
  });

  const stderr = process.stderr;
  const mode = progressMode(opts.progress, stderr);
  const reporter = progressReporter(mode, stderr);
  const stop = new AbortController();
  const hard = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      reporter.say(
        `${signal}: finishing the items in hand and saving (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to stop now)`,
      );
      stop.abort();
    } else {
      hard.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (opts.verbose) {
    reporter.say(
      scanner
        ? `parsing with the native scanner (${SCANNER_PATH}), JSON.parse for the lines it leaves`
        : `parsing with JSON.parse alone: the native scanner is not used, as ${noScanner}`,
    );
  }
  try {
    await store.openJob({ name: job, source: source.uri, task: task.name, filters });
    if (opts.recount) {
      const n = await store.recount(job);
      reporter.say(
        `--recount: the job's counts start over; ${count(n)} items will be read again from their start`,
      );
    }
    if (opts.retryFailed) {
      const n = await store.retryFailed(job);
      reporter.say(`--retry-failed: ${n} failed item${n === 1 ? '' : 's'} will be tried again`);
    }
    const summary = await ingest({
      store,
      job,
      source,
      task,
      ...(governor ? { governor } : {}),
      ...(window ? { window } : {}),
      include,
      ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
      maxAttempts: opts.maxAttempts,
      leaseTtlMs: opts.leaseTtl * 1000,
      backoff: { baseMs: opts.retryDelay, capMs: Math.max(opts.retryDelay, 60_000) },
      signal: stop.signal,
      hardSignal: hard.signal,
      onEvent: reporter.onEvent,
      progressIntervalMs: mode === 'bar' ? 200 : 1000,
    });
    reporter.finish();
    if (writer && summary.outcome !== 'interrupted') await compact(writer, store, job, reporter.say);
    const p = summary.progress;
    const secs = p.elapsedMs / 1000;
    const lines: string[] = [];
    if (summary.outcome === 'nothing-new') {
      lines.push(
        `job "${job}" is complete: ${count(p.itemsDone)} items, ${count(p.records)} records; nothing new to ingest.`,
      );
    } else {
      lines.push(
        `${summary.outcome === 'interrupted' ? 'interrupted' : 'done'}: ${count(summary.processed)} items, ${count(summary.records)} records, ${bytes(summary.bytes)} in ${duration(secs)}` +
          (secs > 0 ? ` (${bytes(summary.bytes / secs)}/s, ${count(summary.records / secs)} records/s)` : ''),
      );
      lines.push(
        `job "${job}": ${count(p.itemsDone)}/${count(p.itemsTotal)} items done, ${count(p.itemsFailed)} failed` +
          (p.itemsLeased > 0 ? `, ${count(p.itemsLeased)} held by other workers` : '') +
          `, ${count(summary.retries)} retries this run`,
      );
    }
    lines.push(`peak memory: ${bytes(process.resourceUsage().maxRSS * 1024)} resident`);
    const http = summary.requests;
    if (http.requests !== undefined) {
      lines.push(
        `requests: ${count(http.requests)} (${count(http.listCalls ?? 0)} list), retried ${count(http.retries ?? 0)}, throttled ${count(http.throttled ?? 0)}, timeouts ${count(http.timeouts ?? 0)}, resets ${count(http.resets ?? 0)}`,
      );
    }
    if (summary.outcome === 'interrupted') lines.push('state saved: run the same command again to resume.');
    if (p.itemsFailed > 0) {
      lines.push(
        `${count(p.itemsFailed)} items failed: see \`sluice status --store ${shellQuote(opts.store)}\`; re-run with --retry-failed.`,
      );
    }
    lines.push(
      `report: sluice report --store ${shellQuote(opts.store)}${opts.job ? ` --job ${shellQuote(opts.job)}` : ''}`,
    );
    for (const line of lines) reporter.say(line);
    const warned = listing.warnings(opts.include, source, p.itemsTotal, window !== undefined);
    for (const line of warned.lines) reporter.say(line);
    const code =
      summary.outcome === 'interrupted'
        ? EXIT.interrupted
        : p.itemsFailed > 0 || warned.failed
          ? EXIT.failedItems
          : EXIT.ok;
    return { code, summary, job };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    governor?.close();
    await task.close();
    if (writer) await (await writer.catch(() => undefined))?.close();
    await store.close();
    await source.close();
  }
}

/**
 * Merges the job's small committed row files a file per day, so queries open few files. Only an
 * optimisation: if it cannot, the rows stay as they are, every one still read exactly once.
 */
async function compact(
  writer: Promise<RowsSink>,
  store: Store,
  job: string,
  say: (line: string) => void,
): Promise<void> {
  try {
    const merged = await (await writer).compact(async () => (await committedRows(store, job)).files);
    if (merged > 0) say(`rows: merged ${count(merged)} small files into a file per day`);
  } catch (error) {
    say(`rows: could not merge small files (${(error as Error).message}); the rows are complete as they are`);
  }
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .summary('count, classify and time every log record under <source>, resumably')
    .description(
      'Lists the log blobs under <source> (a folder, or an Azure container) and parses every record into ' +
        'the store: per status class, code, model and version, day, deployment, operation, category and ' +
        'resource, with latency percentiles. Results commit atomically with item state, so an interrupted ' +
        'or killed run resumes where it stopped, and nothing is counted twice. Re-running a finished job ' +
        'picks up only new blobs and blobs that grew.',
    )
    .argument(
      '<source>',
      'folder path, file:<path>, azure://<account>/<container>[/<prefix>] or https://<account>.blob.core.windows.net/<container>[/<prefix>][?<SAS>]',
    )
    .option('--store <path|url>', STORE_HELP, DEFAULT_STORE)
    .option('--job <name>', 'job name (default: the source and its filters); the same name resumes')
    .option('--from <date>', 'first hour to include, from the y=/m=/d=/h= path (UTC, YYYY-MM-DD[THH])')
    .option('--to <date>', 'last hour or day to include, inclusive (UTC, YYYY-MM-DD[THH])')
    .option('--include <glob>', 'which files or blobs are log blobs', glob, DEFAULT_INCLUDE)
    .option(
      '--partition <i/n>',
      `only items in hash partition i of n, n <= ${LIMITS.partitions} (for machines that share nothing)`,
      partitionText,
    )
    .option(
      '--max-concurrency <n>',
      `most items at once, 1 to ${LIMITS.concurrency}; below it the number adapts to the service and the host`,
      intIn(1, LIMITS.concurrency),
      256,
    )
    .option(
      '--concurrency <n>',
      `a fixed number of items at once instead of the adaptive one (1 to ${LIMITS.concurrency})`,
      intIn(1, LIMITS.concurrency),
    )
    .option(
      '--memory-threshold <percent>',
      'back off when memory use passes this share of what the host can spare',
      percent,
      75,
    )
    .option(
      '--threads <n>',
      `parser threads, 0 to ${LIMITS.threads} (default: one per core; 0 parses on the main thread)`,
      intIn(0, LIMITS.threads, '4 per core on this machine, 256 at most'),
    )
    .option(
      '--max-line-size <bytes>',
      `longest line (or record) parsed, 1KB to ${bytes(LIMITS.lineBytes)}; a longer one counts as one malformed line (default 32MiB)`,
      sizeIn(1000, LIMITS.lineBytes),
    )
    .option(
      '--max-attempts <n>',
      `attempts before an item is marked failed (1 to ${LIMITS.attempts})`,
      intIn(1, LIMITS.attempts),
      4,
    )
    .option(
      '--retry-delay <ms>',
      `first retry backoff ceiling in ms, 1 to ${LIMITS.retryDelayMs} (doubles per attempt, full jitter)`,
      intIn(1, LIMITS.retryDelayMs, '10 minutes at most'),
      1000,
    )
    .option(
      '--keep-rows',
      'keep one row per record as Parquet (zstd), by day, committed with its item, for `sluice query` and `export`',
    )
    .option(
      '--rows-dir <dir>',
      'where --keep-rows writes (default: <store>.rows/<job>/ beside a SQLite store; required with PostgreSQL: a folder all workers share)',
    )
    .option('--retry-failed', 'try failed items again')
    .option(
      '--recount',
      "start the job's counts over: read every item again from its start (after a blob was replaced)",
    )
    .option(
      '--lease-ttl <seconds>',
      "how long a worker's hold on an item lasts without a heartbeat: a dead worker's items come back after it",
      leaseTtl,
      60,
    )
    .option(
      '--progress <mode>',
      'bar | json | none (default: bar on a terminal, JSON lines otherwise)',
      formatOf(PROGRESS_MODES),
    )
    .option(
      '--connection-string <cs>',
      'Azure Storage connection string (default: $AZURE_STORAGE_CONNECTION_STRING)',
    )
    .option('--verbose', 'more detail in errors and logs')
    .addHelpText(
      'after',
      `
Examples:
  sluice ingest ./logs
  sluice ingest ./logs --from 2025-06-01 --to 2025-06-07 --job june-week1
  sluice ingest ./logs --store /data/sluice.db --retry-failed
  sluice ingest ./logs --partition 0/3          # on machine 1 of 3 (1/3, 2/3 on the others)
  sluice ingest ./logs --keep-rows && sluice query "SELECT model, count(*) FROM rows GROUP BY model"
  sluice ingest azure://myaccount/insights-logs-requestresponse --from 2025-06-01 --to 2025-06-07
  AZURE_STORAGE_CONNECTION_STRING=... sluice ingest azure://myaccount/insights-logs-requestresponse
  sluice ingest "https://myaccount.blob.core.windows.net/insights-logs-requestresponse?sv=...&sig=..."

Azure credentials, first found wins: --connection-string, a SAS in the URL,
$AZURE_STORAGE_CONNECTION_STRING, $AZURE_STORAGE_SAS_TOKEN, $AZURE_STORAGE_KEY (with the account
from the URL), then DefaultAzureCredential (az login, managed identity, environment).

Many machines on one job: give each the same --store postgres://user@host:5432/db and --job;
each lists, claims and commits its share, and a dead worker's items come back after --lease-ttl.

Exit codes: 0 done, 1 finished with failed items (see \`sluice status\`), 2 bad usage or input,
3 the store failed (state saved; fix it and run again), 130 interrupted (state saved; run the
same command again to resume).`,
    )
    .action(async (location: string, opts: IngestCliOptions) => {
      const { code } = await runIngest(location, opts);
      process.exitCode = code;
    });
}
