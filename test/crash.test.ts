// Crash safety with real processes and real signals: kill -9 at several moments, or SIGINT /
// SIGTERM, then the same command again: the report equals the truth (nothing lost, nothing twice).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareReports } from '../src/report/compare.js';
import { synthesize } from '../src/synth/generate.js';
import { finished, readJson, sluice, start, waitForEvent } from './support/cli.js';

let dir: string;
let data: string;
let truth: Record<string, unknown>;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-crash-'));
  data = path.join(dir, 'data');
  // Big enough (5,760 blobs) that every kill lands mid-run even on a fast machine.
  await synthesize({ dir: data, seed: 5, days: 24, resources: 3, recordsPerHour: 40 });
  truth = await readJson(path.join(data, 'truth.json'));
});

after(() => rm(dir, { recursive: true, force: true }));

const ingestArgs = (store: string) => [
  'ingest',
  data,
  '--store',
  store,
  '--progress',
  'json',
  '--concurrency',
  '4',
];

async function reportOf(store: string): Promise<Record<string, unknown>> {
  const r = await sluice(['report', '--store', store, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Starts an ingest, waits for `moment`, SIGKILLs it; returns whether it was still running. */
async function killAt(
  store: string,
  moment: (child: ReturnType<typeof start>) => Promise<unknown>,
): Promise<boolean> {
  const child = start(ingestArgs(store));
  const done = finished(child);
  try {
    await moment(child);
  } catch {
    // it finished before the moment came
  }
  const killed = child.kill('SIGKILL');
  const end = await done;
  return killed && end.signal === 'SIGKILL';
}

describe('crash safety', () => {
  it('kill -9 at several moments in a row, then the same command: the report equals the truth', async () => {
    const store = path.join(dir, 'killed.db');
    const commits = (n: number) => (child: ReturnType<typeof start>) => {
      let seen = 0;
      return waitForEvent(child, (e) => e.event === 'commit' && ++seen >= n);
    };
    const moments = [
      (child: ReturnType<typeof start>) => waitForEvent(child, (e) => e.event === 'start'), // while listing
      commits(1), // right after the first batch commits
      () => sleep(100 + Math.floor(Math.random() * 300)), // anywhere (early: a fast machine must not finish first)
      commits(2),
    ];
    let kills = 0;
    for (const moment of moments) if (await killAt(store, moment)) kills += 1;
    assert.ok(kills >= 3, `at least 3 of the kills landed mid-run (${kills})`);

    const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
      items: Record<string, number>;
    };
    assert.ok(
      (status.items.done ?? 0) < (truth.items as { total: number }).total,
      'the killed runs left work to do',
    );

    const rest = await sluice(ingestArgs(store));
    assert.equal(rest.code, 0, rest.stderr);
    assert.deepEqual(compareReports(await reportOf(store), truth), []);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: stops claiming, saves, exits 130; the next run resumes to the exact truth`, async () => {
      const store = path.join(dir, `${signal}.db`);
      const child = start(ingestArgs(store));
      const done = finished(child);
      await waitForEvent(child, (e) => e.event === 'commit');
      child.kill(signal);
      const end = await done;
      assert.equal(end.code, 130, end.stderr);
      assert.match(end.stderr, /state saved: run the same command again to resume/);
      const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
        items: Record<string, number>;
      };
      assert.equal(status.items.leased, 0, 'nothing is left leased after a clean stop');
      const rest = await sluice(ingestArgs(store));
      assert.equal(rest.code, 0, rest.stderr);
      assert.deepEqual(compareReports(await reportOf(store), truth), []);
    });
  }
});
