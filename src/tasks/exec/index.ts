// The exec task: runs the user's command once per work item, as a child of its own (isolated: one
// crash or OOM kill fails one item), output kept per item, started only when the host can take it.
import { statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { ItemError, ItemRequeued, UsageError } from '../../errors.js';
import type { LeasedItem } from '../../store/types.js';
import type { Outcome, Task } from '../types.js';
import { type ChildEnd, runChild } from './child.js';
import { fillCommand, parseCommand, showCommand } from './command.js';
import type { ChildGate, TrackedChild } from './gate.js';
import { JobLog, signalNumber } from './joblog.js';
import { Launcher } from './launcher.js';
import { safeId } from './safe-id.js';
import { Watchdog } from './watchdog.js';

export { safeId } from './safe-id.js';

export interface ExecOptions {
  /** The command after `--`, placeholders unfilled. */
  command: readonly string[];
  /** Fields the items offer (CSV columns, JSONL keys, `path`): what placeholders may name. */
  fields: readonly string[];
  /** Each item's stdout and stderr go to `<outputDir>/<safe id>/`. */
  outputDir: string;
  /** The child's whole group is stopped after this long, ms. None when absent. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL when stopping a group, ms. Default 5,000. */
  graceMs?: number;
  /** Exit codes that mean "trying again cannot help": the item fails at once. */
  noRetryExitCodes?: ReadonlySet<number>;
  /** Appends GNU parallel's joblog format here. */
  joblog?: string;
  /** Decides when children may start and watches their memory; without it, nothing is measured. */
  gate?: ChildGate;
  /** Runs after the command succeeded, before the item commits (--upload); a throw fails the attempt. */
  afterSuccess?: (item: LeasedItem, out: string, signal: AbortSignal) => Promise<void>;
  /** The children's environment. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** How many lines of a failed command's stderr its error keeps. */
const STDERR_LINES = 5;
const STDERR_TAIL_BYTES = 4096;

/** Spawn failures that mean the command itself is wrong: nothing would run, so the run stops. */
const CANNOT_START = new Set(['ENOENT', 'EACCES', 'ENOEXEC', 'ENOTDIR', 'EISDIR', 'ELOOP']);
/** Spawn failures for want of resources: fewer children, and the item goes back. */
const NO_RESOURCES = new Set(['EAGAIN', 'ENOMEM', 'EMFILE', 'ENFILE']);

export interface ExecTask extends Task {
  /** Stops every running child (SIGTERM, SIGKILL after the grace); their items go back untouched. */
  interrupt(reason: string): void;
}

/** Checks the command (unknown placeholders are a UsageError now, before anything starts) and makes the task. */
export function createExecTask(options: ExecOptions): ExecTask {
  const templates = parseCommand(options.command, options.fields);
  const outputDir = path.resolve(options.outputDir);
  const graceMs = options.graceMs ?? 5000;
  const joblog = options.joblog ? new JobLog(options.joblog) : undefined;
  const running = new Map<string, (reason: string) => void>();
  const env = options.env ?? process.env;
  const launcher = Launcher.create(env, undefined, { graceMs });
  // The spawner stands watch itself, and makes each item's folder as it opens its output files.
  const spawner = launcher?.mode === 'spawner';
  const watchdog = spawner ? undefined : Watchdog.start(graceMs);

  // Without the spawner, each item's folder and its two (empty) files are made as the item is
  // claimed, through the thread pool, while other items run: creating three inodes takes a
  // millisecond or more on a busy disk, and on the item's own path that was as long as a trivial
  // command's whole run.
  const prepared = new Map<string, Promise<void>>();
  const prepare = (item: LeasedItem) => {
    if (prepared.has(item.id)) return;
    const ready = prepareOutput(path.join(outputDir, safeId(item.id)));
    ready.catch(() => {}); // `run` awaits it and reports the error as the item's
    prepared.set(item.id, ready);
  };

  async function run(item: LeasedItem, signal: AbortSignal): Promise<Outcome> {
    const out = path.join(outputDir, safeId(item.id));
    const argv = fillCommand(templates, { id: item.id, out, payload: item.payload });
    if (!spawner) {
      const ready = prepared.get(item.id) ?? prepareOutput(out);
      prepared.delete(item.id);
      await ready;
    }
    const stop = new AbortController();
    let stoppedFor: string | undefined;
    const stopFor = (reason: string) => {
      stoppedFor ??= reason;
      stop.abort();
    };
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    running.set(item.id, stopFor);
    let tracked: TrackedChild | undefined;
    let spawned: number | undefined;
    let end: ChildEnd | undefined;
    try {
      const extraEnv = { SLUICE_ID: item.id, SLUICE_OUT: out, SLUICE_ATTEMPT: String(item.attempts + 1) };
      end = await runChild(
        {
          argv,
          stdoutFile: path.join(out, 'stdout'),
          stderrFile: path.join(out, 'stderr'),
          env,
          extraEnv,
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          graceMs,
          signal: stop.signal,
          onSpawn: (pid) => {
            spawned = pid;
            watchdog?.add(pid);
            tracked = options.gate?.track(pid, stopFor);
          },
        },
        launcher,
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (CANNOT_START.has(code)) {
        throw new UsageError(
          `cannot start the command ${JSON.stringify(argv[0])}: ${code === 'ENOENT' ? 'no such file or command (not on PATH?)' : `${code}, is it an executable file?`}. ` +
            'Fix the command after -- (a script needs its execute bit and a #! line, or name its interpreter: -- bash script.sh {id}).',
        );
      }
      if (NO_RESOURCES.has(code)) {
        options.gate?.spawnFailed(code);
        throw new ItemRequeued(`the child could not be started (${code}): going on with fewer`);
      }
      throw error;
    } finally {
      if (spawned !== undefined) watchdog?.remove(spawned);
      tracked?.end(end);
      running.delete(item.id);
      signal.removeEventListener('abort', onAbort);
    }
    const stdoutBytes = sizeOf(path.join(out, 'stdout'));
    const metrics: Record<string, number> = {
      exitCode: end.exitCode ?? -1,
      signal: signalNumber(end.signal),
      startedAt: end.startedAt,
      durationMs: end.durationMs,
      // The group's samples see grandchildren running at once; the spawner's wait4 sees a child that
      // ended before any sample: the larger of the two.
      peakRssBytes: Math.max(tracked?.peakRssBytes ?? 0, end.peakRssBytes ?? 0),
      cpuMs: Math.max(tracked?.cpuMs ?? 0, end.cpuMs ?? 0),
      timedOut: end.timedOut ? 1 : 0,
      stdoutBytes,
    };
    joblog?.append({
      startedAt: end.startedAt,
      durationMs: end.durationMs,
      received: stdoutBytes,
      exitCode: end.exitCode ?? -1,
      signal: signalNumber(end.signal),
      command: showCommand(argv),
    });
    if (signal.aborted) throw new Error('stopped: the item was taken back (lease lost or hard stop)');
    if (stoppedFor !== undefined) throw new ItemRequeued(stoppedFor);
    const result = { out };
    if (end.exitCode === 0 && !end.timedOut) {
      if (options.afterSuccess) {
        try {
          await options.afterSuccess(item, out, signal);
        } catch (error) {
          if (error instanceof UsageError) throw error; // a rejected credential: no item would upload
          const failed = new ItemError(`the command succeeded but ${(error as Error).message}`, true);
          failed.detail = { result, metrics };
          throw failed;
        }
      }
      return { checkpoint: null, covered: 0, records: 0, bytes: 0, metrics, result };
    }
    const tail = await lastLines(path.join(out, 'stderr'));
    const what = end.timedOut
      ? `timed out after ${formatMs(options.timeoutMs ?? 0)}; its process group was stopped`
      : end.signal
        ? `killed by ${end.signal}${end.signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
        : `exit code ${end.exitCode}`;
    const permanent = end.exitCode !== null && options.noRetryExitCodes?.has(end.exitCode) === true;
    const failed = new ItemError(`${what}${tail ? `: ${tail}` : ''}`, !permanent);
    failed.detail = { result, metrics };
    throw failed;
  }

  return {
    name: 'exec',
    run,
    ...(spawner ? {} : { prepare }),
    interrupt(reason: string) {
      for (const stopFor of running.values()) stopFor(reason);
    },
    async close() {
      prepared.clear();
      launcher?.close();
      watchdog?.close();
      joblog?.close();
    },
  };
}

function sizeOf(file: string): number {
  // One metadata call, in place: cheaper than a trip through the thread pool.
  return statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * Makes an item's output folder and its stdout and stderr files (opened to append, so a claimed
 * item given back unrun keeps its last attempt's output; the command's redirections truncate). A
 * plain mkdir is the common case; the recursive form only when the parent is missing (the first
 * item); EEXIST (a rerun) is fine.
 */
async function prepareOutput(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') await mkdir(dir, { recursive: true });
    else if (code !== 'EEXIST') throw error;
  }
  await Promise.all(
    ['stdout', 'stderr'].map(async (name) => (await open(path.join(dir, name), 'a')).close()),
  );
}

/** The last few non-empty lines of a file, joined with ' | ', for an error message. */
export async function lastLines(file: string, lines = STDERR_LINES): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, STDERR_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer
      .toString('utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-lines)
      .join(' | ');
  } finally {
    await handle.close();
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
