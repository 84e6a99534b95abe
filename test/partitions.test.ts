// Machines that share nothing: `partitions` shows the split, each machine ingests its partition
// into its own SQLite store, and `merge` makes one store whose report is the whole job's truth.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compareReports } from '../src/report/compare.js';
import { synthesize } from '../src/synth/generate.js';
import { readJson, sluice } from './support/cli.js';

let dir: string;
let data: string;
let truth: Record<string, unknown>;
const parts: string[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-partitions-'));
  data = path.join(dir, 'data');
  await synthesize({ dir: data, seed: 31, days: 6, resources: 3, recordsPerHour: 8 });
  truth = await readJson(path.join(data, 'truth.json'));
  for (let i = 0; i < 3; i++) {
    const store = path.join(dir, `part-${i}.db`);
    const r = await sluice(['ingest', data, '--partition', `${i}/3`, '--store', store, '--progress', 'none']);
    assert.equal(r.code, 0, r.stderr);
    parts.push(store);
  }
});
after(() => rm(dir, { recursive: true, force: true }));

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

describe('static partitions', () => {
  it('shows how many items and bytes each partition gets, adding up to the whole source', async () => {
    const r = await sluice(['partitions', data, '--n', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { partition: string; items: number; samples: string[] }[];
    assert.deepEqual(
      rows.map((p) => p.partition),
      ['0/3', '1/3', '2/3'],
    );
    assert.equal(
      rows.reduce((n, p) => n + p.items, 0),
      (truth.items as { total: number }).total,
    );
    assert.ok(rows.every((p) => p.items > 0 && p.samples.length > 0));
  });

  it('merges the three stores into one whose report equals the truth', async () => {
    const into = path.join(dir, 'all.db');
    const r = await sluice(['merge', ...parts, '--into', into]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(
      (await sluice(['report', '--store', into, '--format', 'json'])).stdout,
    ) as Record<string, unknown>;
    assert.deepEqual(compareReports(report, truth), []);
    const status = JSON.parse((await sluice(['status', '--store', into, '--json'])).stdout) as {
      listingComplete: boolean;
    };
    assert.equal(status.listingComplete, true);
  });

  it('refuses to merge a store with itself, or two stores that share items, and writes nothing', async () => {
    const into = path.join(dir, 'twice.db');
    const self = await sluice(['merge', parts[0] as string, parts[0] as string, '--into', into]);
    assert.equal(self.code, 2, self.stderr);
    assert.match(self.stderr, /named twice/);
    const copy = path.join(dir, 'part-0-copy.db');
    await copyFile(parts[0] as string, copy);
    const shared = await sluice(['merge', parts[0] as string, copy, parts[1] as string, '--into', into]);
    assert.equal(shared.code, 2, shared.stderr);
    assert.match(shared.stderr, /share items/);
    assert.equal(await exists(into), false);
  });

  it('refuses stores that hold different jobs', async () => {
    const other = path.join(dir, 'other.db');
    const r = await sluice(['ingest', data, '--from', '2024-06-02', '--store', other, '--progress', 'none']);
    assert.equal(r.code, 0, r.stderr);
    const m = await sluice(['merge', parts[0] as string, other, '--into', path.join(dir, 'mixed.db')]);
    assert.equal(m.code, 2, m.stderr);
    assert.match(m.stderr, /holds another job/);
  });
});
