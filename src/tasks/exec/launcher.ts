// Starts children through small long-lived shells instead of forking sluice itself.
//
// Forking a Node process costs about a millisecond of the parent's CPU per child (the page tables
// of a ~100 MB process are copied, then thrown away by exec), which made trivial jobs slower under
// sluice than under GNU parallel. A shell is ~1 MB: its fork is ten times cheaper. Each slot gets a
// shell (`bash -s` or `sh -s`, its own session, so a Ctrl-C reaches sluice alone) that reads one
// job at a time from its stdin as a line of shell text, a call of a function it was given once
// (shellPrelude), which starts the command in the background as a process group of its own (bash's
// job control, or `setsid`: the child's pid is its process group, as Node's `detached: true` makes
// it), reports the pid, waits, and reports the status.
//
// Every word of the job is single-quoted, so nothing in an item's fields is ever read as shell
// syntax. The one thing a shell cannot say exactly is a status above 128: `$?` is 128 + n both for
// a child killed by signal n and for one that exited with 128 + n. Shells, and so most users, read
// it as the signal; so do we.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { constants as os } from 'node:os';
import path from 'node:path';

export interface LaunchSpec {
  /** argv[0] already resolved to an executable's path (see `resolveCommand`). */
  argv: readonly string[];
  stdoutFile: string;
  stderrFile: string;
  /** Added to the shell's environment for this child only. */
  env: Readonly<Record<string, string>>;
}

export interface Launched {
  pid: number;
  /** Settles when the child has ended. */
  exit: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
}

const SIGNALS = new Map<number, NodeJS.Signals>(
  Object.entries(os.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** A shell status as Node reports an exit: 128 + n is signal n when n is a signal. */
export function readStatus(status: number): { exitCode: number | null; signal: NodeJS.Signals | null } {
  const signal = status > 128 ? SIGNALS.get(status - 128) : undefined;
  return signal ? { exitCode: null, signal } : { exitCode: status, signal: null };
}

/** One word for the shell: single-quoted, a quote inside written as '\''. */
export function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** How the shells start each child in a process group of its own. */
export type Mode = 'bash' | 'setsid';

/** Statuses that mean "stopped" (128 + SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU): never an end. */
const STOPPED = (['SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'] as const).map((name) => 128 + os.signals[name]);

/**
 * bash's wait for the end of `$!` into `s`. `wait -f` waits through stops, but when the child was
 * stopped before the wait began it returns that stale "stopped" status even after the child has
 * ended; waiting once more gives the real end (or blocks until it, if the child is stopped still).
 * bash remembers the last child's status, so for a command that itself exited 147 the second wait
 * says 147 again. Once more only: a loop would never end there.
 */
const BASH_WAIT = `wait -f $!; s=$?; case $s in ${STOPPED.join('|')}) wait -f $!; s=$?;; esac`;

/**
 * What a shell is told once, as it starts: the function `j` that each job line calls,
 * `j <stdout file> <stderr file> <argv...>`, which starts the command in the background as the
 * leader of a new process group (bash's job control, or setsid), reports `p <pid>`, waits, and
 * reports `x <status>`. A shell reads the script on its stdin a byte at a time (it must not read
 * past the current line), so the text it runs per job is kept to the job's own words: a job line
 * used to be ~330 bytes, 330 read calls, about 0.3 ms of CPU per job.
 */
export function shellPrelude(mode: Mode): string {
  const start = mode === 'setsid' ? 'setsid ' : '';
  const wait = mode === 'bash' ? BASH_WAIT : 'wait $!; s=$?';
  return (
    `${mode === 'bash' ? 'set -m\n' : ''}` +
    `j() { _o=$1 _e=$2; shift 2; ${start}"$@" </dev/null >"$_o" 2>"$_e" & echo "p $!"; ${wait}; echo "x $s"; }\n`
  );
}

/**
 * The line that runs one job through `j` (see shellPrelude). The environment's additions are
 * assignments before the call: in effect for the call and its command only, in bash and in sh.
 */
export function jobLine(spec: LaunchSpec): string {
  // A shell drops NUL bytes from what it reads: refuse them as spawn does, never change a word.
  for (const word of [...spec.argv, ...Object.values(spec.env), spec.stdoutFile, spec.stderrFile]) {
    if (word.includes('\0')) {
      const error: NodeJS.ErrnoException = new TypeError(
        `an argument holds a NUL byte, which no command can receive: ${JSON.stringify(word.slice(0, 80))}`,
      );
      error.code = 'ERR_INVALID_ARG_VALUE';
      throw error;
    }
  }
  const env = Object.entries(spec.env).map(([name, value]) => {
    if (!NAME.test(name)) throw new Error(`not an environment variable name: ${JSON.stringify(name)}`);
    return `${name}=${quote(value)} `;
  });
  const words = [spec.stdoutFile, spec.stderrFile, ...spec.argv].map(quote).join(' ');
  return `${env.join('')}j ${words}\n`;
}

/** Thrown as Node's spawn would: `code` is ENOENT, EACCES... */
function spawnError(code: string, file: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`spawn ${file} ${code}`);
  error.code = code;
  error.path = file;
  return error;
}

/**
 * The executable `file` names, found on `PATH` as execvp would; throws ENOENT or EACCES as Node's
 * spawn does, so a wrong command is still refused before any item is charged for it.
 */
export function resolveCommand(file: string, envPath: string | undefined): string {
  const candidates = file.includes('/')
    ? [file]
    : (envPath ?? '/usr/local/bin:/usr/bin:/bin').split(':').map((dir) => path.join(dir || '.', file));
  let denied = false;
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return path.resolve(candidate);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES') denied = true;
    }
  }
  throw spawnError(denied ? 'EACCES' : 'ENOENT', file);
}

/** bash's version as major * 100 + minor (502 for 5.2.15), 0 when it does not answer. */
function bashVersion(env: NodeJS.ProcessEnv): number {
  const answer = spawnSync('bash', ['-c', 'echo "$BASH_VERSION"'], {
    env,
    encoding: 'utf8',
    timeout: 5000,
  });
  const [major = 0, minor = 0] = (answer.stdout ?? '').trim().split('.').map(Number);
  return Number.isFinite(major) && Number.isFinite(minor) ? major * 100 + minor : 0;
}

/** A shell that runs one job at a time. */
class Shell {
  readonly #child: ChildProcess;
  #buffer = '';
  #pending: ((line: string) => void)[] = [];
  #dead: Error | undefined;

  constructor(env: NodeJS.ProcessEnv, mode: Mode) {
    this.#child = spawn(mode === 'bash' ? 'bash' : 'sh', ['-s'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env,
    });
    this.#child.stdin?.write(shellPrelude(mode));
    this.#child.stdout?.setEncoding('utf8');
    this.#child.stdout?.on('data', (chunk: string) => {
      this.#buffer += chunk;
      const lines = this.#buffer.split('\n');
      this.#buffer = lines.pop() ?? '';
      for (const line of lines) this.#pending.shift()?.(line);
    });
    let stderr = '';
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    this.#child.stdin?.on('error', () => {}); // a dead shell shows as its exit below
    const die = (why: string) => {
      this.#dead ??= new Error(`the launcher shell ${why}${stderr ? `: ${stderr.trim()}` : ''}`);
      for (const waiter of this.#pending.splice(0)) waiter('');
    };
    this.#child.once('error', (error) => die(`could not start (${error.message})`));
    this.#child.once('close', (code, signal) => die(`ended (${signal ?? `exit code ${code}`})`));
    // Its output closing is the first sign of its end, and comes while a running child's hold
    // still keeps the event loop alive (the process handle itself is not held).
    this.#child.stdout?.once('close', () => die('ended'));
    // An idle shell keeps nothing alive; one running a child does, as a spawned child would.
    this.#child.unref();
    this.#hold(false);
  }

  #hold(on: boolean): void {
    for (const stream of [this.#child.stdin, this.#child.stdout, this.#child.stderr]) {
      const handle = stream as unknown as { ref?: () => void; unref?: () => void } | null;
      if (on) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  get dead(): boolean {
    return this.#dead !== undefined;
  }

  #next(): Promise<string> {
    return new Promise((resolve) => this.#pending.push(resolve));
  }

  async launch(spec: LaunchSpec): Promise<Launched> {
    if (this.#dead) throw this.#dead;
    const started = this.#next();
    const ended = this.#next();
    this.#hold(true);
    ended.then(() => this.#hold(false));
    this.#child.stdin?.write(jobLine(spec));
    const p = await started;
    if (!p.startsWith('p ')) throw this.#dead ?? new Error(`the launcher shell said ${JSON.stringify(p)}`);
    const exit = ended.then((x) => {
      if (!x.startsWith('x ')) throw this.#dead ?? new Error(`the launcher shell said ${JSON.stringify(x)}`);
      return readStatus(Number(x.slice(2)));
    });
    exit.catch(() => {}); // the caller awaits it; this only keeps an early death from being unhandled
    return { pid: Number(p.slice(2)), exit };
  }

  close(): void {
    this.#child.stdin?.end();
  }
}

/** Shells enough for every child running at once; one is reused as soon as its child ends. */
export class Launcher {
  readonly #env: NodeJS.ProcessEnv;
  readonly mode: Mode;
  readonly #idle: Shell[] = [];
  readonly #all = new Set<Shell>();
  readonly #resolved = new Map<string, string>();

  private constructor(env: NodeJS.ProcessEnv, mode: Mode) {
    this.#env = env;
    this.mode = mode;
  }

  /**
   * A launcher through bash 5.1+, else through `sh` and `setsid` (Linux); undefined where neither
   * serves: children are then spawned directly. `prefer` picks a mode (tests run both).
   */
  static create(env: NodeJS.ProcessEnv, prefer?: Mode): Launcher | undefined {
    const has = (file: string) => {
      try {
        resolveCommand(file, env.PATH);
        return true;
      } catch {
        return false;
      }
    };
    const bash = prefer !== 'setsid' && has('bash') && bashVersion(env) >= 501;
    if (bash) return new Launcher(env, 'bash');
    if (prefer !== 'bash' && has('sh') && has('setsid')) return new Launcher(env, 'setsid');
    return undefined;
  }

  /** argv[0] as an absolute path (cached per name), or a throw of ENOENT/EACCES. */
  resolve(file: string): string {
    let found = this.#resolved.get(file);
    if (found === undefined) {
      found = resolveCommand(file, this.#env.PATH);
      if (!file.includes('/')) this.#resolved.set(file, found);
    }
    return found;
  }

  async launch(spec: LaunchSpec): Promise<Launched> {
    let shell = this.#idle.pop();
    while (shell?.dead) {
      this.#all.delete(shell);
      shell = this.#idle.pop();
    }
    if (!shell) {
      shell = new Shell(this.#env, this.mode);
      this.#all.add(shell);
    }
    const own = shell;
    let launched: Launched;
    try {
      launched = await own.launch(spec);
    } catch (error) {
      this.#all.delete(own);
      own.close();
      throw error;
    }
    launched.exit.then(
      () => this.#idle.push(own),
      () => this.#all.delete(own),
    );
    return launched;
  }

  close(): void {
    for (const shell of this.#all) shell.close();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
