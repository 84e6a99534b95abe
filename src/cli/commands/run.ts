// `sluice run --items <list> -- <command> {id} ...`: the user's command once per work item, through
// the one engine loop (leases, retries, resume, many machines), children started as the host allows.
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { leaseOwner, type RunSummary, runJob } from '../../engine/loop.js';
import { parsePartition, partitionOf } from '../../engine/partition.js';
import { EXIT } from '../../errors.js';
import { isBlobAddress } from '../../sources/azure/address.js';
import { openItems } from '../../sources/items/index.js';
import { DEFAULT_STORE, openStore, STORE_HELP } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { ChildGate } from '../../tasks/exec/gate.js';
import { createExecTask } from '../../tasks/exec/index.js';
import { count, duration } from '../format.js';
import { progressMode, progressReporter } from '../progress.js';
import { percent, positiveInt } from './options.js';

export const DEFAULT_OUTPUT_DIR = './sluice-out';

export interface RunCliOptions {
  items: string;
  idColumn?: string;
  depth?: number;
  outputDir: string;
  timeout?: number;
  killAfter?: number;
  maxAttempts: number;
  retryDelay: number;
  permanentExitCodes?: Set<number>;
  retryFailed?: boolean;
  partition?: string;
  store: string;
  job?: string;
  leaseTtl: number;
  jobs?: number;
  maxJobs: number;
  memoryThreshold: number;
  cpuThreshold: number;
  joblog?: string;
  upload?: string;
  connectionString?: string;
  progress?: string;
  verbose?: boolean;
}

/** `600`, `600s`, `10m`, `1h`, `1500ms` → milliseconds. */
export function durationOption(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
  if (!m)
    throw new InvalidArgumentError(
      'expected a duration such as 600s, 10m, 1h or 1500ms (a bare number is seconds)',
    );
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[
    (m[2] ?? 's').toLowerCase() as 'ms' | 's' | 'm' | 'h'
  ];
  const ms = Math.round(Number(m[1]) * scale);
  if (ms <= 0) throw new InvalidArgumentError('expected a duration above zero');
  return ms;
}

/** `2,64-78` → {2, 64, 65, ..., 78}. */
export function exitCodesOption(value: string): Set<number> {
  const codes = new Set<number>();
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (!m || from > to || to > 255)
      throw new InvalidArgumentError('expected exit codes such as 2 or 2,64-78 (0-255)');
    for (let c = from; c <= to; c++) codes.add(c);
  }
  return codes;
}

/** Runs one `sluice run` as the CLI does (signals, progress, summary) and returns its exit code. */
export async function runCommand(command: string[], opts: RunCliOptions): Promise<number> {
  const killAfterMs = opts.killAfter ?? 5000;
  const partition = opts.partition ? parsePartition(opts.partition) : undefined;
  const include = partition
    ? (id: string) => partitionOf(id, partition.count) === partition.index
    : undefined;
  // Everything the user could have got wrong is checked before the store is touched or a child starts.
  const items = await openItems(opts.items, {
    ...(opts.idColumn ? { idColumn: opts.idColumn } : {}),
    ...(opts.depth === undefined ? {} : { depth: opts.depth }),
    ...(include ? { include } : {}),
    ...(opts.connectionString ? { connectionString: opts.connectionString } : {}),
    verbose: Boolean(opts.verbose),
  });
  const upload = opts.upload
    ? await (await import('../../tasks/exec/upload.js')).openUpload(opts.upload, {
        ...(opts.connectionString ? { connectionString: opts.connectionString } : {}),
      })
    : undefined;
  const stderr = process.stderr;
  const mode = progressMode(opts.progress, stderr);
  const reporter = progressReporter(mode, stderr);
  const gate = new ChildGate({
    ...(opts.jobs === undefined ? {} : { fixed: opts.jobs }),
    max: opts.maxJobs,
    initial: Math.min(2, opts.maxJobs),
    memoryThreshold: opts.memoryThreshold / 100,
    cpuThreshold: opts.cpuThreshold / 100,
    onDecision: (message) => decision(message),
  });
  let task: ReturnType<typeof createExecTask>;
  try {
    task = createExecTask({
      command,
      fields: items.fields,
      outputDir: opts.outputDir,
      ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }),
      graceMs: killAfterMs,
      ...(opts.permanentExitCodes ? { noRetryExitCodes: opts.permanentExitCodes } : {}),
      ...(opts.joblog ? { joblog: opts.joblog } : {}),
      gate,
      ...(upload ? { afterSuccess: (item, out, signal) => upload.put(item.id, out, signal) } : {}),
    });
  } catch (error) {
    gate.close();
    throw error;
  }

  const filters: Record<string, unknown> = {};
  if (opts.idColumn) filters.idColumn = opts.idColumn;
  if (opts.depth !== undefined) filters.depth = opts.depth;
  if (partition) filters.partition = `${partition.index}/${partition.count}`;
  // The job is the list, named so that every machine sharing a store names it alike (not by its
  // absolute path). The command is not part of it: it may be fixed between runs (--retry-failed).
  const source = isBlobAddress(opts.items)
    ? items.uri.replace(/ \(.*\)$/, '')
    : `items:${path.basename(opts.items)}`;
  // Partitions and depths list different items, so they are different jobs; the id column is not.
  const split = [filters.depth === undefined ? '' : `depth ${filters.depth}`, filters.partition ?? ''].filter(
    Boolean,
  );
  const suffix = split.length > 0 ? `#${split.join(',')}` : '';
  const job = opts.job ?? `run:${source.replace(/^items:/, '')}${suffix}`;
  const owner = leaseOwner();

  let store: Store | undefined;
  let runId: number | undefined;
  const early: { at: number; message: string }[] = [];
  function decision(message: string) {
    reporter.onEvent({ type: 'decision', message });
    const at = Date.now();
    if (runId === undefined) early.push({ at, message });
    else void store?.addRunEvent(runId, at, message).catch(() => {});
  }

  const stop = new AbortController();
  const hard = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      reporter.say(
        `${signal}: no new items; stopping the running commands (SIGTERM, SIGKILL after ${duration(killAfterMs / 1000)}) and giving their items back (${signal} again to stop now)`,
      );
      stop.abort();
      task.interrupt(`interrupted by ${signal}`);
    } else {
      hard.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (items.total !== undefined) {
    reporter.say(
      `${count(items.total)} items checked in ${opts.items}${partition && items.count !== undefined ? `; ${count(items.count)} in partition ${partition.index}/${partition.count}` : ''}`,
    );
  }
  try {
    store = await openStore(opts.store);
    await store.openJob({ name: job, source, task: task.name, filters });
    if (opts.retryFailed) {
      const n = await store.retryFailed(job);
      reporter.say(`--retry-failed: ${n} failed item${n === 1 ? '' : 's'} will be tried again`);
    }
    const opened = store;
    const summary = await runJob({
      store: opened,
      job,
      task,
      listing: items,
      owner,
      slots: gate,
      maxAttempts: opts.maxAttempts,
      backoff: { baseMs: opts.retryDelay, capMs: Math.max(opts.retryDelay, 60_000) },
      leaseTtlMs: opts.leaseTtl * 1000,
      // A command's work is dear and its outcome small: each commits as soon as it ends, so a crash
      // runs again only the commands that were running, not those that had finished a moment before.
      commitBatch: 1,
      // Children get the kill grace to end after a stop, and the loop a little more to give their items back.
      graceMs: killAfterMs + 2000,
      signal: stop.signal,
      hardSignal: hard.signal,
      progressIntervalMs: mode === 'bar' ? 250 : 1000,
      onEvent: (event) => {
        reporter.onEvent(event);
        if (event.type === 'start') {
          runId = event.runId;
          for (const e of early.splice(0))
            void opened.addRunEvent(event.runId, e.at, e.message).catch(() => {});
        }
      },
    });
    reporter.finish();
    for (const line of summaryLines(summary, job, opts)) reporter.say(line);
    return summary.outcome === 'interrupted'
      ? EXIT.interrupted
      : summary.status.items.failed > 0
        ? EXIT.failedItems
        : EXIT.ok;
  } finally {
    reporter.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    gate.close();
    await task.close();
    await store?.close().catch(() => {});
  }
}

function summaryLines(summary: RunSummary, job: string, opts: RunCliOptions): string[] {
  const s = summary.status;
  const secs = summary.progress.elapsedMs / 1000;
  const where = `--store ${opts.store}${opts.job ? ` --job ${JSON.stringify(opts.job)}` : ''}`;
  const lines: string[] = [];
  if (
    summary.outcome === 'nothing-new' ||
    (summary.processed === 0 &&
      summary.failed === 0 &&
      summary.retries === 0 &&
      summary.outcome !== 'interrupted')
  ) {
    lines.push(
      `job "${job}" is complete: ${count(s.items.done)} items done, ${count(s.items.failed)} failed; nothing new to run.`,
    );
  } else {
    lines.push(
      `${summary.outcome === 'interrupted' ? 'interrupted' : 'finished'}: ${count(summary.processed)} items done, ${count(summary.failed)} failed, ${count(summary.retries)} retried, ${count(summary.requeued)} given back in ${duration(secs)}` +
        (secs > 0 && summary.processed > 0 ? ` (${(summary.processed / secs).toFixed(1)} items/s)` : ''),
    );
    lines.push(
      `job "${job}": ${count(s.items.done)}/${count(s.items.total)} items done, ${count(s.items.failed)} failed, ${count(s.items.pending + s.items.leased)} to go`,
    );
  }
  lines.push(`output: ${path.resolve(opts.outputDir)}/<id>/stdout and stderr`);
  if (summary.outcome === 'interrupted') lines.push('state saved: run the same command again to resume.');
  if (s.items.failed > 0) {
    for (const f of s.failures.slice(0, 5))
      lines.push(`  FAILED ${f.id} (${f.attempts} attempts): ${f.error}`);
    lines.push(
      `${count(s.items.failed)} item${s.items.failed === 1 ? '' : 's'} failed: see \`sluice status ${where}\`; after a fix, run again with --retry-failed.`,
    );
  }
  lines.push(`report: sluice report ${where}`);
  return lines;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .summary('run a command once per work item (CSV/JSONL rows, files, blob folders), resumably')
    .description(
      'Runs <command> once per item of --items, as an argv no value can inject into (nothing is read as shell syntax): {id}, {<column>}, {path} and {out} are ' +
        'replaced inside each argument. Each item runs as a child in its own process group, its stdout and ' +
        'stderr kept in <output-dir>/<id>/. Children start only while the host has memory and CPU for one ' +
        'more (learned from the children so far), unless --jobs fixes their number. State lives in the ' +
        'store: the same command again runs only what is not done, and several machines sharing a ' +
        'PostgreSQL store split the items between them.',
    )
    .argument('<command...>', 'the command and its arguments, after --')
    .requiredOption(
      '--items <list>',
      'file.csv (with a header) | file.jsonl | a folder | azure://<account>/<container>[/<prefix>]',
    )
    .option('--id-column <name>', 'the column (or JSONL key) holding each item\'s id (default: "id")')
    .option(
      '--depth <n>',
      'folder or container: the sub-folders this many levels down are the items',
      positiveInt,
    )
    .option('--output-dir <dir>', "where each item's stdout and stderr are kept", DEFAULT_OUTPUT_DIR)
    .option(
      '--timeout <duration>',
      'stop a command (its whole process group) after this long: 600s, 10m, 1h',
      durationOption,
    )
    .option(
      '--kill-after <duration>',
      'after SIGTERM, SIGKILL a group still running this long after (default: 5s)',
      durationOption,
    )
    .option('--max-attempts <n>', 'attempts before an item is marked failed', positiveInt, 3)
    .option(
      '--retry-delay <ms>',
      'first retry backoff ceiling in ms (doubles per attempt, full jitter)',
      positiveInt,
      1000,
    )
    .option(
      '--permanent-exit-codes <codes>',
      'exit codes that fail an item at once, no retry: 2 or 2,64-78',
      exitCodesOption,
    )
    .option('--retry-failed', 'try failed items again')
    .option('--partition <i/n>', 'only items in hash partition i of n (machines that share no store)')
    .option('--store <path>', STORE_HELP, DEFAULT_STORE)
    .option('--job <name>', 'job name (default: from the item list); the same name resumes')
    .option(
      '--lease-ttl <seconds>',
      'an item held by a worker that stopped renewing comes back after this long',
      positiveInt,
      60,
    )
    .option('--jobs <n>', 'exactly n commands at once instead of as many as the host can take', positiveInt)
    .option('--max-jobs <n>', 'at most n commands at once', positiveInt, 256)
    .option(
      '--memory-threshold <percent>',
      'start a command only while memory, with it, stays under this',
      percent,
      75,
    )
    .option(
      '--cpu-threshold <percent>',
      'start a command only while busy CPU, with it, stays under this',
      percent,
      75,
    )
    .option('--joblog <file>', "also append one line per attempt in GNU parallel's joblog format")
    .option(
      '--upload <azure://account/container/prefix>',
      "upload each item's output folder to <prefix>/<id>/ before it counts as done",
    )
    .option(
      '--connection-string <cs>',
      'Azure Storage connection string (default: $AZURE_STORAGE_CONNECTION_STRING)',
    )
    .option('--progress <mode>', 'bar | json | none (default: bar on a terminal, JSON lines otherwise)')
    .option('--verbose', 'more detail in errors and logs')
    .addHelpText(
      'after',
      `
Examples:
  # 21,000 work items from a CSV keyed by WorkItemId, on two machines sharing one PostgreSQL store
  # (run the same line on both; each takes items as it goes, a third machine may join at any time):
  sluice run --items failed_workitems.csv --id-column WorkItemId \\
    --store postgres://sluice@db:5432/sluice --timeout 30m -- python reupload.py --id {WorkItemId}

  # one item per blob "folder" (depth 1 under the prefix), results uploaded per item:
  sluice run --items azure://myaccount/images/batches/ --depth 1 \\
    --upload azure://myaccount/results/run1 -- ./recognise --input {path} --out {out}

  # a script per card with a 600 s timeout; its whole process group is stopped when it overruns:
  sluice run --items cards.jsonl --timeout 600s --max-jobs 8 -- bash process_card.sh {id} {deck}

  # the same again resumes (only what is not done runs); new rows are added:
  sluice run --items cards.jsonl --timeout 600s -- bash process_card.sh {id} {deck}

Placeholders: {id}, {out} (the item's output folder), {path} (folder and container items), and
{<column>} for every CSV column or JSONL key. No shell runs unless you name one; then quoting
inside its script is yours: -- sh -c 'convert "$1" out.png' sh {path}. Write {{ and }} for braces.
Each command also sees $SLUICE_ID, $SLUICE_OUT and $SLUICE_ATTEMPT.

Exit codes: 0 done, 1 finished with failed items (see \`sluice status\`), 2 bad usage or input
(nothing started), 3 the store failed (state saved), 130 interrupted (state saved; run the same
command again to resume).`,
    )
    .action(async (command: string[], opts: RunCliOptions) => {
      process.exitCode = await runCommand(command, opts);
    });
}
