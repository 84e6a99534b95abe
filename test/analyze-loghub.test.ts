// `sluice analyze` on real logs nobody on this project wrote (loghub 2k samples): template grouping
// accuracy against the ground truth, and level counts equal to the README's.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { sluice } from './support/cli.js';

// Real system logs with ground truth (loghub 2k samples, kept with their licence in test/fixtures/loghub).
const LOGHUB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/loghub');
const SYSTEMS = ['HDFS', 'Hadoop', 'OpenStack', 'Spark', 'Zookeeper'];

/** From the README's table (FATAL counts as CRITICAL, WARN as WARNING). */
const LEVELS: Record<string, Record<string, number>> = {
  HDFS: { INFO: 1920, WARNING: 80 },
  Hadoop: { INFO: 1040, WARNING: 808, ERROR: 150, CRITICAL: 2 },
  OpenStack: { INFO: 1969, WARNING: 31 },
  Spark: { INFO: 2000 },
  Zookeeper: { WARNING: 1318, INFO: 669, ERROR: 13 },
};

/**
 * loghub's grouping accuracy: an event is correct when the set of events sharing its predicted
 * template is exactly the set sharing its true template.
 */
function groupingAccuracy(predicted: string[], truth: string[]): number {
  const groups = (labels: string[]) => {
    const map = new Map<string, number[]>();
    labels.forEach((label, i) => {
      const members = map.get(label);
      if (members) members.push(i);
      else map.set(label, [i]);
    });
    return map;
  };
  const truthGroups = groups(truth);
  let correct = 0;
  for (const members of groups(predicted).values()) {
    const label = truth[members[0] as number] as string;
    const expected = truthGroups.get(label) ?? [];
    if (expected.length === members.length && members.every((m) => truth[m] === label))
      correct += members.length;
  }
  return correct / truth.length;
}

describe('analyze on loghub samples', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-loghub-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('groups events into templates with an average grouping accuracy of at least 0.85 (default settings)', async () => {
    const figures: number[] = [];
    for (const system of SYSTEMS) {
      const log = path.join(LOGHUB, system, `${system}_2k.log`);
      const out = path.join(dir, `${system}.csv`);
      const run = await sluice(['analyze', log, '--structured', out, '--format', 'json']);
      assert.equal(run.code, 0, run.stderr);
      const rows = parse(await readFile(out), { columns: true }) as Record<string, string>[];
      const truth = parse(await readFile(`${log}_structured.csv`), { columns: true }) as Record<
        string,
        string
      >[];
      assert.equal(rows.length, truth.length, `${system}: one event per line`);
      assert.deepEqual(
        rows.map((row) => Number(row.line)),
        truth.map((t) => Number(t.LineId)),
        `${system}: lines`,
      );
      const accuracy = groupingAccuracy(
        rows.map((r) => r.template_id as string),
        truth.map((t) => t.EventId as string),
      );
      console.log(`${system.padEnd(10)} grouping accuracy ${accuracy.toFixed(3)}`);
      figures.push(accuracy);
    }
    const average = figures.reduce((a, b) => a + b, 0) / figures.length;
    console.log(`average    grouping accuracy ${average.toFixed(3)}`);
    assert.ok(average >= 0.85, `average grouping accuracy ${average.toFixed(3)} is below 0.85`);
  });

  it('counts levels read from their place in the line, equal to the ground truth', async () => {
    for (const system of SYSTEMS) {
      const run = await sluice([
        'analyze',
        path.join(LOGHUB, system, `${system}_2k.log`),
        '--format',
        'json',
      ]);
      assert.equal(run.code, 0, run.stderr);
      const analysis = JSON.parse(run.stdout) as { levels: Record<string, number>; events: number };
      const nonZero = Object.fromEntries(Object.entries(analysis.levels).filter(([, n]) => n > 0));
      assert.deepEqual(nonZero, LEVELS[system], system);
      assert.equal(analysis.events, 2000, system);
    }
  });

  it('gives the same events, templates and figures on worker threads as on one thread', async () => {
    const runs = [];
    for (const workers of ['0', '2']) {
      const out = path.join(dir, `all-${workers}.csv`);
      const run = await sluice([
        'analyze',
        LOGHUB,
        '--include',
        '*.log',
        '--workers',
        workers,
        '--structured',
        out,
        '--format',
        'json',
      ]);
      assert.equal(run.code, 0, run.stderr);
      runs.push({ json: run.stdout, csv: await readFile(out, 'utf8') });
    }
    assert.equal(runs[1]?.json, runs[0]?.json);
    assert.equal(runs[1]?.csv, runs[0]?.csv);
    assert.equal(JSON.parse(runs[0]?.json ?? '{}').events, 10_000);
  });
});
