// Runs one command as a child in a process group of its own, output straight to files, and ends
// the whole group (grandchildren too) on a timeout or a stop: SIGTERM, then SIGKILL after a grace.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface ChildSpec {
  argv: readonly string[];
  stdoutFile: string;
  stderrFile: string;
  env?: NodeJS.ProcessEnv;
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
}

/** Sends `sig` to every process of the group; a group already gone (ESRCH) is not an error. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group has ended. EPERM cannot happen to a group we started and still wait for.
  }
}

/**
 * Runs the child to its end. Rejects (with the spawn error and its `code`) when it cannot start:
 * ENOENT, EACCES, EAGAIN... Output goes to the two files through descriptors the child inherits:
 * there is no pipe that could fill up because nobody reads it.
 */
export function runChild(spec: ChildSpec): Promise<ChildEnd> {
  const [file, ...args] = spec.argv;
  const out = openSync(spec.stdoutFile, 'w');
  let err: number | undefined;
  let child: ChildProcess;
  const startedAt = Date.now();
  try {
    err = openSync(spec.stderrFile, 'w');
    child = spawn(file as string, args, {
      detached: true, // its own process group: one kill reaches everything it starts
      stdio: ['ignore', out, err],
      ...(spec.env ? { env: spec.env } : {}),
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
    });
  } catch (error) {
    return Promise.reject(error);
  } finally {
    // The child has its own copies now; ours would only keep the files open.
    closeSync(out);
    if (err !== undefined) closeSync(err);
  }
  return new Promise<ChildEnd>((resolve, reject) => {
    let timedOut = false;
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    let pid: number | undefined;
    const stop = () => {
      if (pid === undefined || killTimer) return;
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(pid as number, 'SIGKILL'), spec.graceMs);
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
    const cleanUp = () => {
      clearTimeout(timeout);
      spec.signal.removeEventListener('abort', onAbort);
    };
    child.once('spawn', () => {
      pid = child.pid as number;
      spec.onSpawn?.(pid);
      if (spec.signal.aborted) onAbort();
      else spec.signal.addEventListener('abort', onAbort, { once: true });
    });
    child.once('error', (error) => {
      cleanUp();
      clearTimeout(killTimer);
      reject(error);
    });
    child.once('exit', (exitCode, signal) => {
      cleanUp();
      // Whatever it left running in its group goes too: at once when we were stopping it, else
      // politely. Nothing of an item outlives the item unaccounted.
      if (pid !== undefined) {
        clearTimeout(killTimer);
        signalGroup(pid, killTimer || timedOut || stopped ? 'SIGKILL' : 'SIGTERM');
      }
      resolve({ exitCode, signal, startedAt, durationMs: Date.now() - startedAt, timedOut, stopped });
    });
  });
}
