// `npm run bench [-- --quick] [--only local,azure,memory,profile] [--runs N]`: runs the chosen
// benchmarks, prints their tables (markdown, stdout) and saves everything to .bench/results.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, ROOT } from './support/dataset.js';
import type { BenchOptions, Section } from './support/section.js';
import { CLI } from './support/sluice.js';

const BENCHMARKS = {
  local: async (o: BenchOptions) => (await import('./local.js')).runLocal(o),
  azure: async (o: BenchOptions) => (await import('./azure.js')).runAzure(o),
  memory: async (o: BenchOptions) => (await import('./memory.js')).runMemory(o),
  profile: async (o: BenchOptions) => (await import('./profile.js')).runProfile(o),
  workers: async (o: BenchOptions) => (await import('./workers.js')).runWorkers(o),
  rows: async (o: BenchOptions) => (await import('./rows.js')).runRows(o),
  store: async (o: BenchOptions) => (await import('./store.js')).runStore(o),
  exec: async (o: BenchOptions) => (await import('./exec.js')).runExec(o),
  analyze: async (o: BenchOptions) => (await import('./analyze.js')).runAnalyze(o),
} as const;
type Name = keyof typeof BENCHMARKS;
/** profile is on demand only: it explains, it does not compare. */
const DEFAULT: Name[] = ['local', 'azure', 'memory', 'workers', 'store', 'exec', 'rows', 'analyze'];

const USAGE = `usage: npm run bench -- [--quick] [--only local,azure,memory,workers,store,exec,rows,analyze,profile] [--runs N]
  --quick   small datasets, one run each: proves the harness works end to end (about a minute)
  --only    which benchmarks (comma-separated; default all but profile, which is on demand)
  --runs    timed runs per contender for the local and azure benchmarks (default 3, 1 with --quick)`;

function options(): { quick: boolean; only: Name[]; runs: number } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      runs: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const only = (values.only ?? DEFAULT).flatMap((v) => v.split(',')).filter((v) => v !== '');
  const unknown = only.filter((v) => !(v in BENCHMARKS));
  const runs = values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs);
  if (unknown.length > 0 || !Number.isInteger(runs) || runs < 1) {
    console.error(
      unknown.length > 0 ? `unknown benchmark: ${unknown.join(', ')}` : `--runs must be 1 or more`,
    );
    console.error(USAGE);
    process.exit(2);
  }
  return { quick: values.quick ?? false, only: [...new Set(only)] as Name[], runs };
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The newest modification time in dist/: changes when someone rebuilds sluice under us. */
function distStamp(): string | null {
  const dist = dirname(dirname(CLI));
  if (!existsSync(dist)) return null;
  let newest = 0;
  for (const f of readdirSync(dist, { recursive: true }) as string[]) {
    try {
      newest = Math.max(newest, statSync(join(dist, f)).mtimeMs);
    } catch {
      // removed while we looked: a rebuild is under way, which the next stamp will show
    }
  }
  return new Date(newest).toISOString();
}

async function main(): Promise<void> {
  const { quick, only, runs } = options();
  mkdirSync(BENCH_DIR, { recursive: true });
  const scratch = mkdtempSync(join(BENCH_DIR, 'tmp-'));
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const o: BenchOptions = { quick, runs, scratch, say };
  const started = new Date();
  const sections: Section[] = [];
  const failures: Record<string, string> = {};
  const cleanup = () => rmSync(scratch, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    for (const name of only) {
      say(`== ${name}${quick ? ' (quick)' : ''}`);
      try {
        const before = distStamp();
        // A benchmark may give several sections (local: one per dataset).
        const result: Section | Section[] = await BENCHMARKS[name](o);
        const after = distStamp();
        for (const section of [result].flat()) {
          if (after !== before) {
            section.notes.push(
              `**Warning: dist/ was rebuilt while this benchmark ran (${before} → ${after}): sluice's numbers may mix two builds. Run it again.**`,
            );
          }
          section.data = { ...(section.data as object), dist: { before, after } };
          sections.push(section);
          console.log(`\n### ${section.title}\n\n${section.table}\n`);
          for (const note of section.notes) console.log(`- ${note}`);
        }
      } catch (error) {
        // One benchmark failing (e.g. Azurite not starting) must not hide the others' results.
        failures[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
        console.log(`\n### ${name}: FAILED\n\n${failures[name]}\n`);
      }
    }
  } finally {
    cleanup();
  }
  const results = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    quick,
    runs,
    // dist/ is what was measured (each section records its build's time); it may hold uncommitted work.
    git: { commit: git(['rev-parse', 'HEAD']), dirty: git(['status', '--porcelain']) !== '' },
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      loadAverageAtEnd: loadavg(),
      node: process.version,
    },
    sections: Object.fromEntries(
      sections.map((s) => [s.name, { title: s.title, notes: s.notes, ...(s.data as object) }]),
    ),
    failures,
  };
  const path = join(BENCH_DIR, 'results.json');
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  say(`results: ${path}`);
  if (Object.keys(failures).length > 0) process.exitCode = 1;
}

await main();
