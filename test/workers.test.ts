// Several ingest processes on one job (one SQLite file here; test/postgres-workers.test.ts does the
// same across a PostgreSQL store): each item is counted once, the summary speaks of the whole job,
// and a frozen worker's items are taken over once its leases run out, without waiting for it.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { compareReports } from '../src/report/compare.js';
import { synthesize } from '../src/synth/generate.js';
import { finished, readJson, sluice, start, waitForEvent } from './support/cli.js';

let dir: string;
let data: string;
let truth: Record<string, unknown>;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-workers-'));
  data = path.join(dir, 'data');
  await synthesize({ dir: data, seed: 21, days: 16, resources: 3, recordsPerHour: 30 });
  truth = await readJson(path.join(data, 'truth.json'));
});
after(() => rm(dir, { recursive: true, force: true }));

const ingest = (store: string, ...extra: string[]) => [
  'ingest',
  data,
  '--store',
  store,
  '--job',
  'shared',
  '--progress',
  'json',
  '--concurrency',
  '2',
  ...extra,
];

async function reportOf(store: string): Promise<Record<string, unknown>> {
  const r = await sluice(['report', '--store', store, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/**
 * SIGSTOPs `child` at a moment it holds no write lock on the SQLite `store`. (One machine's SQLite
 * store cannot take a lock back from a frozen process: a process frozen mid-write holds up the
 * others until it is thawed, which the README says. PostgreSQL ends such a session itself:
 * test/postgres-workers.test.ts freezes a worker wherever it is.)
 */
async function freezeOutsideAWrite(child: ChildProcess, store: string): Promise<void> {
  for (let tries = 0; tries < 50; tries++) {
    child.kill('SIGSTOP');
    const db = new Database(store, { timeout: 0 });
    try {
      db.exec('BEGIN IMMEDIATE; ROLLBACK');
      return;
    } catch {
      child.kill('SIGCONT');
      await sleep(20);
    } finally {
      db.close();
    }
  }
  throw new Error('the worker held the store locked at every try');
}

describe('workers sharing a job', () => {
  it('two processes started together count every item once, and each summary speaks of the whole job', async () => {
    const store = path.join(dir, 'two.db');
    const [a, b] = await Promise.all([sluice(ingest(store)), sluice(ingest(store))]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(compareReports(await reportOf(store), truth), []);
    const items = (truth.items as { total: number }).total;
    for (const out of [a.stderr, b.stderr]) {
      const m = /(\d[\d,]*)\/(\d[\d,]*) items done/.exec(out);
      assert.ok(m, out);
      assert.equal(Number(m[1]?.replaceAll(',', '')), items);
      assert.equal(Number(m[2]?.replaceAll(',', '')), items);
    }
    const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
      workers: { done: number; left: boolean }[];
    };
    assert.equal(status.workers.length, 2);
    assert.ok(status.workers.every((w) => w.left));
    assert.equal(
      status.workers.reduce((n, w) => n + w.done, 0),
      items,
      'the workers’ done counts add up to the job',
    );
  });

  it('takes over the items of a frozen worker once its leases run out; the thawed worker commits nothing twice', async () => {
    const store = path.join(dir, 'frozen.db');
    const frozen = start(ingest(store, '--lease-ttl', '5'));
    const frozenDone = finished(frozen); // collected from the start: its end cannot be missed
    await waitForEvent(frozen, (e) => e.event === 'commit' && Number(e.items) > 0);
    await freezeOutsideAWrite(frozen, store);
    try {
      const started = Date.now();
      const other = await sluice(ingest(store, '--lease-ttl', '5'));
      assert.equal(other.code, 0, other.stderr);
      assert.match(other.stderr, /leased by other workers/);
      assert.ok(Date.now() - started < 60_000);
      const mid = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
        items: { total: number; done: number; leased: number };
      };
      assert.equal(mid.items.leased, 0);
      assert.equal(mid.items.done, mid.items.total);
    } finally {
      frozen.kill('SIGCONT');
    }
    const thawed = await frozenDone;
    assert.equal(thawed.code, 0, thawed.stderr);
    assert.deepEqual(compareReports(await reportOf(store), truth), []);
  });
});
