// Runs one command as a child in a process group of its own, output straight to files, and ends
// the whole group (grandchildren too) on a timeout or a stop: SIGTERM, then SIGKILL after a grace.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { ChildExit, Launcher } from './launcher.js';

export interface ChildSpec {
  argv: readonly string[];
  stdoutFile: string;
  stderrFile: string;
  /** The environment the child inherits (default process.env); a launcher has it already. */
  env?: NodeJS.ProcessEnv;
  /** What this child gets on top of it ($SLUICE_ID...). */
  extraEnv?: Readonly<Record<string, string>>;
  /** Working directory, for a direct spawn (a launcher's children run in sluice's). */
  cwd?: string;
  /** The group is stopped after this long, ms; none when absent. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL, ms. */
  graceMs: number;
  /** Aborting it stops the group (a lost lease, a hard stop, a child stopped to spare memory). */
  signal: AbortSignal;
  /** Called once the child runs, with its pid (= its process group id). */
  onSpawn?: (pid: number) => void;
}

export interface ChildEnd {
  /** null when a signal ended it. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  startedAt: number;
  durationMs: number;
  timedOut: boolean;
  /** The stop asked for through `signal` ended it. */
  stopped: boolean;
  /** Peak resident memory of the child, bytes, where its launcher measured it (the spawner). */
  peakRssBytes?: number;
  /** CPU time of the child and of what it waited for, ms, where its launcher measured it. */
  cpuMs?: number;
}

/** Sends `sig` to every process of the group; a group already gone (ESRCH) is not an error. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group has ended. EPERM cannot happen to a group we started and still wait for.
  }
}

/** A child that has started: its pid (= its process group id) and its end. */
interface Started {
  pid: number;
  exit: Promise<ChildExit>;
}

/** Starts the child with Node's own spawn (where there is no launcher). */
function spawnDirect(spec: ChildSpec): Promise<Started> {
  const [file, ...args] = spec.argv;
  const out = openSync(spec.stdoutFile, 'w');
  let err: number | undefined;
  let child: ChildProcess;
  try {
    err = openSync(spec.stderrFile, 'w');
    child = spawn(file as string, args, {
      detached: true, // its own process group: one kill reaches everything it starts
      stdio: ['ignore', out, err],
      ...(spec.env || spec.extraEnv ? { env: { ...(spec.env ?? process.env), ...spec.extraEnv } } : {}),
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
    });
  } catch (error) {
    return Promise.reject(error);
  } finally {
    // The child has its own copies now; ours would only keep the files open.
    closeSync(out);
    if (err !== undefined) closeSync(err);
  }
  const exit = new Promise<ChildExit>((resolve) =>
    child.once('exit', (exitCode, signal) => resolve({ exitCode, signal })),
  );
  return new Promise<Started>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve({ pid: child.pid as number, exit }));
  });
}

/**
 * Runs the child to its end, through `launcher` when given (see launcher.ts), else with Node's
 * spawn. Rejects (with the spawn error and its `code`) when it cannot start: ENOENT, EACCES,
 * EAGAIN... Output goes to the two files through descriptors the child inherits: there is no pipe
 * that could fill up because nobody reads it.
 */
export async function runChild(spec: ChildSpec, launcher?: Launcher): Promise<ChildEnd> {
  const startedAt = Date.now();
  let started: Started;
  if (launcher) {
    const [file, ...args] = spec.argv;
    const argv = [launcher.resolve(file as string), ...args];
    started = await launcher.launch({
      argv,
      stdoutFile: spec.stdoutFile,
      stderrFile: spec.stderrFile,
      env: spec.extraEnv ?? {},
    });
  } else {
    started = await spawnDirect(spec);
  }
  const { pid } = started;
  let timedOut = false;
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (killTimer) return;
    signalGroup(pid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), spec.graceMs);
  };
  const timeout =
    spec.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          stop();
        }, spec.timeoutMs);
  const onAbort = () => {
    stopped = true;
    stop();
  };
  spec.onSpawn?.(pid);
  if (spec.signal.aborted) onAbort();
  else spec.signal.addEventListener('abort', onAbort, { once: true });
  try {
    let ended: Awaited<Started['exit']>;
    try {
      ended = await started.exit;
    } catch (error) {
      // The launcher (spawner or shell) died under a running child: nobody can wait for it now, so it goes.
      signalGroup(pid, 'SIGKILL');
      throw error;
    }
    const { exitCode, signal, peakRssBytes, cpuMs } = ended;
    // Whatever it left running in its group goes too: at once when we were stopping it, else
    // politely. Nothing of an item outlives the item unaccounted.
    signalGroup(pid, killTimer || timedOut || stopped ? 'SIGKILL' : 'SIGTERM');
    return {
      exitCode,
      signal,
      startedAt,
      durationMs: Date.now() - startedAt,
      timedOut,
      stopped,
      ...(peakRssBytes === undefined ? {} : { peakRssBytes }),
      ...(cpuMs === undefined ? {} : { cpuMs }),
    };
  } finally {
    clearTimeout(timeout);
    clearTimeout(killTimer);
    spec.signal.removeEventListener('abort', onAbort);
  }
}
