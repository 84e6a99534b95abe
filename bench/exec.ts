// `node --import tsx bench/exec.ts [--jobs 2000] [--quick]`: `sluice run` against what a user would
// reach for (GNU parallel -j2, xargs -P2) on N trivial jobs: wall time, per-job overhead, peak
// memory, and what each kept when killed with SIGKILL midway (what its restart skipped, what ran
// twice). Also exported as runExec(BenchOptions) for bench/run.ts (`exec: ... runExec(o)`).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measure, rssMethod } from './support/measure.js';
import type { BenchOptions, Section } from './support/section.js';
import { CLI, requireBuild } from './support/sluice.js';
import { markdownTable } from './support/table.js';

/** Parallelism every contender gets: the same two slots. */
const P = 2;

interface Contender {
  name: string;
  /** Available on this machine (GNU parallel is a Debian package that may be missing). */
  available: boolean;
  /** The trivial job N times: echo the id. */
  plain(dir: string): [string, string[]];
  /** Each job appends its id to runs.log; `resume` is the command a user runs after the crash. */
  counted(dir: string, resume: boolean): [string, string[]];
}

const COUNT = 'echo "$1" >> runs.log';

function contenders(): Contender[] {
  // `fixed`: --jobs P, the same number as the others; without it, as users run it: the gate decides.
  // `shells`: children start through launcher shells, as where the spawner could not be built.
  const sluice = (dir: string, command: string[], fixed = true, shells = false): [string, string[]] => [
    'env',
    [
      ...(shells ? ['SLUICE_SPAWNER=0'] : []),
      process.execPath,
      CLI,
      'run',
      '--items',
      join(dir, 'items.csv'),
      ...(fixed ? ['--jobs', String(P)] : []),
      '--progress',
      'none',
      '--',
      ...command,
    ],
  ];
  const shell = (script: string): [string, string[]] => ['sh', ['-c', script]];
  return [
    {
      name: 'sluice run (no --jobs: the gate decides)',
      available: true,
      plain: (dir) => sluice(dir, ['echo', '{id}'], false),
      counted: (dir) => sluice(dir, ['sh', '-c', COUNT, 'sh', '{id}'], false),
    },
    {
      name: `sluice run --jobs ${P}`,
      available: true,
      plain: (dir) => sluice(dir, ['echo', '{id}']),
      counted: (dir) => sluice(dir, ['sh', '-c', COUNT, 'sh', '{id}']),
    },
    {
      name: `sluice run --jobs ${P}, launcher shells (SLUICE_SPAWNER=0)`,
      available: true,
      plain: (dir) => sluice(dir, ['echo', '{id}'], true, true),
      counted: (dir) => sluice(dir, ['sh', '-c', COUNT, 'sh', '{id}'], true, true),
    },
    {
      name: `parallel -j${P} --joblog`,
      available: has('parallel'),
      plain: () => shell(`exec parallel -j${P} echo {} :::: ids.txt > /dev/null`),
      // --joblog is parallel's memory; --resume skips what it logged. It hands its command line to a
      // shell, quoting what replaces {}.
      counted: (_dir, resume) =>
        shell(
          `exec parallel -j${P} --joblog joblog ${resume ? '--resume ' : ''}'echo {} >> runs.log' :::: ids.txt`,
        ),
    },
    {
      name: `xargs -P${P}`,
      available: true,
      plain: () => shell(`exec xargs -P${P} -n1 echo < ids.txt > /dev/null`),
      // xargs keeps nothing: after a crash the only restart is all of it again.
      counted: () => shell(`exec xargs -P${P} -n1 sh -c '${COUNT}' sh < ids.txt`),
    },
  ];
}

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function prepare(root: string, name: string, n: number): string {
  const dir = join(root, name.replace(/[^a-z0-9]+/gi, '-'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ids = Array.from({ length: n }, (_, i) => `job-${i}`);
  writeFileSync(join(dir, 'items.csv'), `id\n${ids.join('\n')}\n`);
  writeFileSync(join(dir, 'ids.txt'), `${ids.join('\n')}\n`);
  return dir;
}

function runsIn(dir: string): string[] {
  try {
    return readFileSync(join(dir, 'runs.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('close', () => resolve()));
}

interface KillResult {
  ranBeforeKill: number;
  /** Jobs the restart did not run again: what the tool remembered. */
  kept: number;
  ranTwice: number;
  missing: number;
  restartMs: number;
}

/** Starts the counted run, SIGKILLs it once half the jobs ran, restarts it, and counts. */
async function killMidway(c: Contender, dir: string, n: number): Promise<KillResult> {
  const [file, args] = c.counted(dir, false);
  const first = spawn(file, args, { cwd: dir, stdio: 'ignore', detached: true });
  const done = exited(first);
  const deadline = Date.now() + 300_000;
  while (runsIn(dir).length < n / 2) {
    if (Date.now() > deadline) throw new Error(`${c.name}: half the jobs did not run within 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The tool itself dies (its process, as the OOM killer or a reboot would take it); jobs in hand run out.
  first.kill('SIGKILL');
  await done;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const ranBeforeKill = runsIn(dir).length;
  const [again, againArgs] = c.counted(dir, true);
  const started = performance.now();
  const second = spawn(again, againArgs, { cwd: dir, stdio: 'ignore' });
  await exited(second);
  const restartMs = performance.now() - started;
  const runs = runsIn(dir);
  const counts = new Map<string, number>();
  for (const id of runs) counts.set(id, (counts.get(id) ?? 0) + 1);
  return {
    ranBeforeKill,
    kept: n - (runs.length - ranBeforeKill),
    ranTwice: [...counts.values()].filter((k) => k > 1).length,
    missing: n - counts.size,
    restartMs,
  };
}

export async function runExec(o: BenchOptions, n = o.quick ? 200 : 2000): Promise<Section> {
  requireBuild();
  const rows: Record<string, string>[] = [];
  const data: Record<string, unknown>[] = [];
  for (const c of contenders()) {
    if (!c.available) {
      o.say(`exec: ${c.name} is not installed here (Debian: apt-get install parallel); skipped`);
      continue;
    }
    o.say(`exec: ${c.name}, ${n} jobs`);
    const dir = prepare(o.scratch, c.name, n);
    const [file, args] = c.plain(dir);
    const plain = await measure('sh', ['-c', `cd "${dir}" && exec "$0" "$@"`, file, ...args]);
    if (plain.code !== 0) throw new Error(`${c.name} failed: ${plain.stderr.slice(-500)}`);
    o.say(`exec: ${c.name}, killed midway and restarted`);
    const killed = await killMidway(c, prepare(o.scratch, `${c.name}-kill`, n), n);
    rows.push({
      tool: c.name,
      wall: `${(plain.wallMs / 1000).toFixed(1)} s`,
      'per job': `${((plain.wallMs * P) / n).toFixed(1)} ms`,
      'peak RSS': plain.peakRss === null ? '-' : `${Math.round(plain.peakRss / 2 ** 20)} MiB`,
      'ran before kill': String(killed.ranBeforeKill),
      'kept (skipped on restart)': String(Math.max(0, killed.kept)),
      'ran twice': String(killed.ranTwice),
      'never ran': String(killed.missing),
      restart: `${(killed.restartMs / 1000).toFixed(1)} s`,
    });
    data.push({
      tool: c.name,
      n,
      parallelism: P,
      plain: { wallMs: plain.wallMs, peakRss: plain.peakRss },
      killed,
    });
  }
  const columns = [
    'tool',
    'wall',
    'per job',
    'peak RSS',
    'ran before kill',
    'kept (skipped on restart)',
    'ran twice',
    'never ran',
    'restart',
  ];
  return {
    name: 'exec',
    title: `sluice run vs GNU parallel vs xargs: ${n} trivial jobs, ${P} at a time`,
    table: markdownTable(columns, rows),
    notes: [
      `Each tool runs \`echo <id>\` ${n} times, ${P} at once. "per job" is wall time x ${P} / ${n}: what one job costs a slot, start to finish.`,
      "sluice also keeps each job's stdout and stderr in its own folder, its exit code and duration in the store (SQLite), and could resume at any point.",
      `Killed midway: each tool runs \`sh -c 'echo <id> >> runs.log'\`, is SIGKILLed once ${n / 2} jobs ran, then restarted the way its user would (sluice: the same command; parallel: --resume with its --joblog; xargs: everything again, it keeps nothing).`,
      '"kept" = jobs the restart skipped; "ran twice" counts jobs run by both (those in hand or not yet recorded at the kill).',
      `Peak RSS: ${rssMethod()}; for sluice, its own process (children excluded).`,
    ],
    data,
  };
}

const direct = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (direct) {
  const { values } = parseArgs({
    options: { jobs: { type: 'string' }, quick: { type: 'boolean', default: false } },
  });
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-bench-exec-'));
  try {
    const section = await runExec(
      { quick: values.quick ?? false, runs: 1, scratch, say: (line) => process.stderr.write(`${line}\n`) },
      values.jobs ? Number(values.jobs) : undefined,
    );
    process.stdout.write(
      `## ${section.title}\n\n${section.table}\n\n${section.notes.map((l) => `- ${l}`).join('\n')}\n`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
