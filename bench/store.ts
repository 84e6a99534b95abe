// The store's claim -> commit cycle alone: items per second that 1, 2 and 4 worker processes get
// through SQLite and PostgreSQL on tiny items (each commit adds a one-counter delta), the loop a
// worker runs minus the task. Every run is checked: each item done once, the counter exact.
// `node --import tsx bench/store.ts [--items 20000] [--workers 1,2,4] [--stores sqlite,postgres]`
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Delta } from '../src/aggregate/delta.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import type { BenchOptions, Section } from './support/section.js';
import { seconds, thousands } from './support/stats.js';
import { markdownTable } from './support/table.js';

const JOB = 'bench';
const BATCH = 64;
const TTL_MS = 60_000;
const ADMIN_URL = process.env.SLUICE_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const KEY = '["items"]';

type Kind = 'sqlite' | 'postgres';

/** What to measure: items per run, worker counts, stores. Defaults: 20,000 (5,000 with --quick), 1/2/4, both. */
export interface StoreBenchOptions {
  items: number;
  workers: number[];
  stores: Kind[];
}

/** One worker process: opens the store, says it is ready, and on "go" claims and commits until nothing is left. */
async function child(location: string): Promise<void> {
  const store = await openStore(location);
  const owner = `bench/${process.pid}/0`;
  await store.heartbeat(JOB, owner, [], TTL_MS);
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  let committed = 0;
  for (;;) {
    const leased = await store.leaseItems(JOB, owner, BATCH, TTL_MS);
    if (leased.length === 0) break;
    const units = leased.map((item) => {
      const delta = new Delta();
      delta.count(KEY, 1);
      return {
        items: [
          {
            id: item.id,
            fence: item.fence,
            checkpoint: null,
            covered: 0,
            records: 1,
            bytes: 0,
            startedAt: 0,
            finishedAt: 0,
          },
        ],
        delta,
      };
    });
    committed += (await store.commitResults(JOB, owner, units)).committed;
  }
  await store.leaveJob(JOB, owner);
  await store.close();
  process.stdout.write(`done ${committed}\n`);
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

/** A fresh store of `kind` holding `items` pending items; `drop` removes it. */
async function freshStore(
  kind: Kind,
  items: number,
  tag: string,
): Promise<{ location: string; drop: () => Promise<void> }> {
  let location: string;
  let drop: () => Promise<void>;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-store-'));
    location = join(dir, 'state.db');
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const name = `sluice_bench_store_${tag}`;
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin(`CREATE DATABASE ${name}`);
    location = new URL(`/${name}`, ADMIN_URL).toString();
    drop = () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const store = await openStore(location);
  await store.openJob({ name: JOB, source: 'bench:', task: 'none', filters: {} });
  for (let from = 0; from < items; from += 1000) {
    const batch = Array.from({ length: Math.min(1000, items - from) }, (_, i) => ({
      id: `item-${String(from + i).padStart(8, '0')}`,
      size: 1,
    }));
    await store.addItems(JOB, batch);
  }
  await store.close();
  return { location, drop };
}

function startChild(location: string): { proc: ChildProcess; ready: Promise<void>; done: Promise<number> } {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', location],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  let ready!: () => void;
  let done!: (n: number) => void;
  let failed!: (e: Error) => void;
  const readyP = new Promise<void>((r) => {
    ready = r;
  });
  const doneP = new Promise<number>((r, j) => {
    done = r;
    failed = j;
  });
  lines.on('line', (line) => {
    if (line === 'ready') ready();
    else if (line.startsWith('done ')) done(Number(line.slice(5)));
  });
  proc.once('exit', (code) => {
    if (code !== 0) failed(new Error(`a bench worker exited ${code}`));
  });
  return { proc, ready: readyP, done: doneP };
}

async function check(location: string, items: number): Promise<string> {
  const store: Store = await openStore(location, { readOnly: true });
  try {
    const s = await store.status(JOB);
    const total = (await store.aggregates(JOB)).counters.get(KEY) ?? 0;
    return s.items.done === items && total === items
      ? 'exact'
      : `done ${s.items.done}, counted ${total} of ${items}`;
  } finally {
    await store.close();
  }
}

/** The store benchmark as `npm run bench -- --only store` runs it (see run.ts), or alone from the command line. */
export async function runStore(
  bench: BenchOptions,
  options: Partial<StoreBenchOptions> = {},
): Promise<Section> {
  const o = {
    items: options.items ?? (bench.quick ? 5_000 : 20_000),
    workers: options.workers ?? [1, 2, 4],
    stores: options.stores ?? (['sqlite', 'postgres'] as Kind[]),
    say: bench.say,
  };
  const rows: { store: Kind; workers: number; ms: number; check: string }[] = [];
  for (const kind of o.stores) {
    for (const n of o.workers) {
      const fresh = await freshStore(kind, o.items, `${n}`);
      try {
        const workers = Array.from({ length: n }, () => startChild(fresh.location));
        await Promise.all(workers.map((w) => w.ready));
        const started = performance.now();
        for (const w of workers) w.proc.stdin?.end('go\n');
        const counts = await Promise.all(workers.map((w) => w.done));
        const ms = performance.now() - started;
        const verdict = await check(fresh.location, o.items);
        rows.push({ store: kind, workers: n, ms, check: verdict });
        o.say(`store: ${kind} × ${n} → ${seconds(ms)} (${counts.join(' / ')}), ${verdict}`);
      } finally {
        await fresh.drop();
      }
    }
  }
  return {
    name: 'store',
    title: `Store claim → commit cycle: ${thousands(o.items)} tiny items, batches of ${BATCH}`,
    table: markdownTable(
      ['store', 'workers', 'items/s', 'wall time', 'check'],
      rows.map((r) => ({
        store: r.store,
        workers: String(r.workers),
        'items/s': thousands(Math.round((o.items / r.ms) * 1000)),
        'wall time': seconds(r.ms),
        check: r.check,
      })),
    ),
    notes: [
      `Each worker is a process of its own looping leaseItems(limit ${BATCH}) → commitResults (one unit per item, each with a one-counter delta) until nothing is left; timed from "go" (all workers connected) to the last one done.`,
      'SQLite is a temporary file (WAL); PostgreSQL is a fresh database on the local server (127.0.0.1:5432). The check reads back items done and the summed counter.',
    ],
    data: { batch: BATCH, items: o.items, rows },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      items: { type: 'string', default: '20000' },
      workers: { type: 'string', default: '1,2,4' },
      stores: { type: 'string', default: 'sqlite,postgres' },
    },
  });
  if (values.child) {
    await child(values.child);
  } else {
    const section = await runStore(
      { quick: false, runs: 1, scratch: tmpdir(), say: (line) => process.stderr.write(`${line}\n`) },
      {
        items: Number(values.items),
        workers: values.workers.split(',').map(Number),
        stores: values.stores.split(',') as Kind[],
      },
    );
    console.log(`## ${section.title}\n\n${section.table}\n\n${section.notes.join('\n')}`);
  }
}
