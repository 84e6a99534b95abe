// Starts children without forking sluice itself.
//
// Forking a Node process costs about a millisecond of the parent's CPU per child (the page tables
// of a ~100 MB process are copied, then thrown away by exec), which made trivial jobs slower under
// sluice than under GNU parallel. Two ways around it, the first preferred:
//
// - The spawner (spawner.c, built with the package where a C compiler is found): one small process
//   for all the children of a run. It starts each with posix_spawn (a vfork: nothing is copied) as
//   the leader of a process group of its own, and reports each end through wait4: the exit code and
//   the signal exactly, and the child's peak memory and CPU time.
// - Launcher shells: each slot gets a shell (`bash -s` or `sh -s`, its own session, so a Ctrl-C
//   reaches sluice alone) that reads one job at a time from its stdin as a line of shell text, a
//   call of a function it was given once (shellPrelude), which starts the command in the background
//   as a process group of its own (bash's job control, or `setsid`), reports the pid, waits, and
//   reports the status. Every word of the job is single-quoted, so nothing in an item's fields is
//   ever read as shell syntax. The one thing a shell cannot say exactly is a status above 128: `$?`
//   is 128 + n both for a child killed by signal n and for one that exited with 128 + n. Shells, and
//   so most users, read it as the signal; so do we.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { availableParallelism, constants as os } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED } from '../../bundle.js';

export interface LaunchSpec {
  /** argv[0] already resolved to an executable's path (see `resolveCommand`). */
  argv: readonly string[];
  stdoutFile: string;
  stderrFile: string;
  /** Added to the environment for this child only. */
  env: Readonly<Record<string, string>>;
}

export interface ChildExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The child's peak resident memory, bytes, where the launcher can tell (the spawner's wait4). */
  peakRssBytes?: number;
  /** CPU time of the child and of the descendants it waited for, ms (the same). */
  cpuMs?: number;
}

export interface Launched {
  pid: number;
  /** Settles when the child has ended. */
  exit: Promise<ChildExit>;
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

/** How children start: through the spawner, or through shells (bash's job control, or setsid). */
export type Mode = 'spawner' | 'bash' | 'setsid';
type ShellMode = Exclude<Mode, 'spawner'>;

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
export function shellPrelude(mode: ShellMode): string {
  const start = mode === 'setsid' ? 'setsid ' : '';
  const wait = mode === 'bash' ? BASH_WAIT : 'wait $!; s=$?';
  return (
    `${mode === 'bash' ? 'set -m\n' : ''}` +
    `j() { _o=$1 _e=$2; shift 2; ${start}"$@" </dev/null >"$_o" 2>"$_e" & echo "p $!"; ${wait}; echo "x $s"; }\n`
  );
}

/**
 * Refuses what no command can receive, as spawn does, rather than change a word: a NUL byte (a
 * shell drops it; the spawner's words end at it) and an environment name that is not a name.
 */
function checkWords(spec: LaunchSpec): void {
  for (const word of [...spec.argv, ...Object.values(spec.env), spec.stdoutFile, spec.stderrFile]) {
    if (word.includes('\0')) {
      const error: NodeJS.ErrnoException = new TypeError(
        `an argument holds a NUL byte, which no command can receive: ${JSON.stringify(word.slice(0, 80))}`,
      );
      error.code = 'ERR_INVALID_ARG_VALUE';
      throw error;
    }
  }
  for (const name of Object.keys(spec.env)) {
    if (!NAME.test(name)) throw new Error(`not an environment variable name: ${JSON.stringify(name)}`);
  }
}

/**
 * The line that runs one job through `j` (see shellPrelude). The environment's additions are
 * assignments before the call: in effect for the call and its command only, in bash and in sh.
 */
export function jobLine(spec: LaunchSpec): string {
  checkWords(spec);
  const env = Object.entries(spec.env).map(([name, value]) => `${name}=${quote(value)} `);
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

/**
 * A helper process that sluice talks to in lines: jobs on its stdin, one reply a line on its
 * stdout; its own session (a Ctrl-C in the terminal reaches sluice alone). Idle, it keeps nothing
 * alive; held (while a child of it runs), it does, as a spawned child would.
 */
class Helper {
  readonly #child: ChildProcess;
  #buffer = '';
  #dead: Error | undefined;

  /** `onLine` hears each reply; `onDeath` once, with why, when the helper cannot serve any more. */
  constructor(
    what: string,
    file: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    onLine: (line: string) => void,
    onDeath: (error: Error) => void,
  ) {
    this.#child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
    this.#child.stdout?.setEncoding('utf8');
    this.#child.stdout?.on('data', (chunk: string) => {
      this.#buffer += chunk;
      const lines = this.#buffer.split('\n');
      this.#buffer = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    let stderr = '';
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    this.#child.stdin?.on('error', () => {}); // a dead helper shows as its exit below
    const die = (why: string) => {
      if (this.#dead) return;
      this.#dead = new Error(`the ${what} ${why}${stderr ? `: ${stderr.trim()}` : ''}`);
      onDeath(this.#dead);
    };
    this.#child.once('error', (error) => die(`could not start (${error.message})`));
    this.#child.once('close', (code, signal) => die(`ended (${signal ?? `exit code ${code}`})`));
    // Its output closing is the first sign of its end, and comes while a running child's hold
    // still keeps the event loop alive (the process handle itself is not held).
    this.#child.stdout?.once('close', () => die('ended'));
    this.#child.unref();
    this.hold(false);
  }

  /** Why it cannot serve, once it cannot. */
  get dead(): Error | undefined {
    return this.#dead;
  }

  hold(on: boolean): void {
    for (const stream of [this.#child.stdin, this.#child.stdout, this.#child.stderr]) {
      const handle = stream as unknown as { ref?: () => void; unref?: () => void } | null;
      if (on) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  write(text: string): void {
    this.#child.stdin?.write(text);
  }

  end(text?: string): void {
    this.#child.stdin?.end(text);
  }
}

/** A shell that runs one job at a time. */
class Shell {
  readonly #helper: Helper;
  #pending: ((line: string) => void)[] = [];

  constructor(env: NodeJS.ProcessEnv, mode: ShellMode) {
    this.#helper = new Helper(
      'launcher shell',
      mode === 'bash' ? 'bash' : 'sh',
      ['-s'],
      env,
      (line) => this.#pending.shift()?.(line),
      () => {
        for (const waiter of this.#pending.splice(0)) waiter('');
      },
    );
    this.#helper.write(shellPrelude(mode));
  }

  get dead(): boolean {
    return this.#helper.dead !== undefined;
  }

  #next(): Promise<string> {
    return new Promise((resolve) => this.#pending.push(resolve));
  }

  async launch(spec: LaunchSpec): Promise<Launched> {
    const helper = this.#helper;
    if (helper.dead) throw helper.dead;
    const started = this.#next();
    const ended = this.#next();
    helper.hold(true);
    ended.then(() => helper.hold(false));
    helper.write(jobLine(spec));
    const p = await started;
    if (!p.startsWith('p ')) throw helper.dead ?? new Error(`the launcher shell said ${JSON.stringify(p)}`);
    const exit = ended.then((x) => {
      if (!x.startsWith('x ')) throw helper.dead ?? new Error(`the launcher shell said ${JSON.stringify(x)}`);
      return readStatus(Number(x.slice(2)));
    });
    exit.catch(() => {}); // the caller awaits it; this only keeps an early death from being unhandled
    return { pid: Number(p.slice(2)), exit };
  }

  close(): void {
    this.#helper.end();
  }
}

/** Where the build puts the spawner: dist/spawner, beside dist/cli/ (or the same from source). */
export function spawnerFile(): string {
  return fileURLToPath(new URL(BUNDLED ? '../spawner' : '../../../dist/spawner', import.meta.url));
}

/** The protocol spoken with the spawner (spawner.c's PROTOCOL): a spawner built for another refuses. */
const SPAWNER_PROTOCOL = '1';

/** Names of errno values, as Node's spawn errors carry them in `code`. */
const ERRNO_NAMES = new Map<number, string>(Object.entries(os.errno).map(([name, n]) => [n, name]));

interface SpawnerJob {
  argv0: string;
  started: (launched: Launched) => void;
  failed: (error: Error) => void;
  ended?: (exit: ChildExit) => void;
  lost?: (error: Error) => void;
}

/** The spawner (spawner.c): one process that starts children and reports each end. */
class Spawner {
  readonly #helper: Helper;
  readonly #jobs = new Map<number, SpawnerJob>();
  #nextId = 0;
  /** Jobs sent and not yet started (or refused): while one starts, the spawner can do nothing else. */
  #starting = 0;

  constructor(file: string, env: NodeJS.ProcessEnv, graceMs: number) {
    this.#helper = new Helper(
      'spawner',
      file,
      [SPAWNER_PROTOCOL, String(Math.round(graceMs))],
      env,
      (line) => this.#reply(line),
      (error) => {
        for (const job of this.#jobs.values()) {
          job.failed(error);
          job.lost?.(error);
        }
        this.#jobs.clear();
      },
    );
  }

  get dead(): boolean {
    return this.#helper.dead !== undefined;
  }

  get starting(): number {
    return this.#starting;
  }

  #reply(line: string): void {
    const [kind, idText, ...rest] = line.split(' ');
    const id = Number(idText);
    const job = this.#jobs.get(id);
    if (!job) return;
    if (kind !== 'x') this.#starting -= 1;
    if (kind === 'p') {
      const exit = new Promise<ChildExit>((resolve, reject) => {
        job.ended = resolve;
        job.lost = reject;
      });
      exit.catch(() => {}); // the caller awaits it; this only keeps an early death from being unhandled
      job.started({ pid: Number(rest[0]), exit });
      return;
    }
    this.#jobs.delete(id);
    if (this.#jobs.size === 0) this.#helper.hold(false);
    if (kind === 'e') {
      const code = ERRNO_NAMES.get(Number(rest[0])) ?? `errno ${rest[0]}`;
      if (rest[1] === 'exec') {
        job.failed(spawnError(code, job.argv0));
      } else {
        // The output file could not be made: the item's attempt fails, the command is not to blame.
        job.failed(new Error(`cannot open the command's ${rest[1]} file (${code})`));
      }
    } else if (kind === 'x') {
      const [code = '-1', signal = '0', rssKiB = '0', cpuMicros = '0'] = rest;
      job.ended?.({
        exitCode: Number(code) >= 0 ? Number(code) : null,
        signal: Number(signal) > 0 ? (SIGNALS.get(Number(signal)) ?? null) : null,
        peakRssBytes: Number(rssKiB) * 1024,
        cpuMs: Number(cpuMicros) / 1000,
      });
    }
  }

  launch(spec: LaunchSpec): Promise<Launched> {
    if (this.#helper.dead) return Promise.reject(this.#helper.dead);
    checkWords(spec);
    const id = ++this.#nextId;
    const env = Object.entries(spec.env).map(([name, value]) => `${name}=${value}`);
    const words = [spec.stdoutFile, spec.stderrFile, ...env, ...spec.argv];
    const job = `${id} ${env.length} ${spec.argv.length}\n${words.join('\0')}\0`;
    this.#starting += 1;
    return new Promise<Launched>((started, failed) => {
      this.#jobs.set(id, { argv0: spec.argv[0] ?? '', started, failed });
      if (this.#jobs.size === 1) this.#helper.hold(true);
      this.#helper.write(job);
    });
  }

  /** No more jobs; the children running end on their own (without the goodbye, they are stopped). */
  close(): void {
    this.#helper.end('bye\n');
  }
}

export interface LauncherOptions {
  /** Where the spawner is; default where the build puts it (spawnerFile). */
  spawner?: string;
  /**
   * Should sluice die, the spawner stops the children it leaves running: SIGTERM, then SIGKILL
   * after this long, ms (default 5,000). Shells do not: the Watchdog does that for them.
   */
  graceMs?: number;
}

/** Spawners at most, each starting one child at a time. */
const MAX_SPAWNERS = Math.max(1, availableParallelism());

/** Whether the spawner at `file` runs here and speaks our protocol (told goodbye at once, it exits 0). */
function spawnerWorks(file: string, env: NodeJS.ProcessEnv): boolean {
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return false;
  }
  const answer = spawnSync(file, [SPAWNER_PROTOCOL, '0'], { input: 'bye\n', env, timeout: 5000 });
  return answer.status === 0;
}

/**
 * The children of a run: through the spawner where it was built, else through shells enough for
 * every child running at once (one is reused as soon as its child ends).
 */
export class Launcher {
  readonly #env: NodeJS.ProcessEnv;
  readonly mode: Mode;
  readonly #spawnerFile: string;
  readonly #graceMs: number;
  #spawners: Spawner[] = [];
  readonly #idle: Shell[] = [];
  readonly #all = new Set<Shell>();
  readonly #resolved = new Map<string, string>();

  private constructor(env: NodeJS.ProcessEnv, mode: Mode, options: LauncherOptions = {}) {
    this.#env = env;
    this.mode = mode;
    this.#spawnerFile = options.spawner ?? '';
    this.#graceMs = options.graceMs ?? 5000;
  }

  /**
   * The spawner where it was built and runs, else a launcher through bash 5.1+, else through `sh`
   * and `setsid` (Linux); undefined where none serves: children are then spawned directly.
   * `prefer` picks a mode (tests run each); SLUICE_SPAWNER=0 in sluice's environment leaves the
   * spawner out (should it ever misbehave somewhere).
   */
  static create(env: NodeJS.ProcessEnv, prefer?: Mode, options: LauncherOptions = {}): Launcher | undefined {
    const spawner = options.spawner ?? spawnerFile();
    const wanted = prefer === 'spawner' || (prefer === undefined && process.env.SLUICE_SPAWNER !== '0');
    if (wanted && spawnerWorks(spawner, env)) return new Launcher(env, 'spawner', { ...options, spawner });
    if (prefer === 'spawner') return undefined;
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
    if (this.mode !== 'spawner') return this.#launchInShell(spec);
    return this.#spawner().launch(spec);
  }

  /**
   * A spawner free to start a child now. A spawner is busy while it starts one (posix_spawn returns
   * once the child has exec'd, a millisecond or more), not while its children run: one per core at
   * most lets starts happen side by side. A spawner that died is dropped; the children it ran were
   * failed with its death.
   */
  #spawner(): Spawner {
    this.#spawners = this.#spawners.filter((s) => !s.dead);
    let best: Spawner | undefined;
    for (const s of this.#spawners) if (!best || s.starting < best.starting) best = s;
    if (best && (best.starting === 0 || this.#spawners.length >= MAX_SPAWNERS)) return best;
    const fresh = new Spawner(this.#spawnerFile, this.#env, this.#graceMs);
    this.#spawners.push(fresh);
    return fresh;
  }

  async #launchInShell(spec: LaunchSpec): Promise<Launched> {
    let shell = this.#idle.pop();
    while (shell?.dead) {
      this.#all.delete(shell);
      shell = this.#idle.pop();
    }
    if (!shell) {
      shell = new Shell(this.#env, this.mode as ShellMode);
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
    for (const spawner of this.#spawners) spawner.close();
    this.#spawners = [];
    for (const shell of this.#all) shell.close();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
