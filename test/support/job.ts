// A small real job for the read commands' tests: `sluice synth` data ingested into a SQLite store.
import assert from 'node:assert/strict';
import path from 'node:path';
import { sluice } from './cli.js';

/** Writes `days` of synthetic logs under `dir`, ingests them as job `job`, returns the store and its report. */
export async function synthJob(
  dir: string,
  options: { job: string; days: number; seed: number },
): Promise<{ store: string; report: Record<string, unknown> }> {
  const store = path.join(dir, 'sluice.db');
  const data = path.join(dir, 'data');
  const synth = await sluice([
    'synth',
    data,
    '--days',
    String(options.days),
    '--records-per-hour',
    '20',
    '--seed',
    String(options.seed),
  ]);
  assert.equal(synth.code, 0, synth.stderr);
  const ingest = await sluice(['ingest', data, '--store', store, '--job', options.job, '--threads', '0']);
  assert.equal(ingest.code, 0, ingest.stderr);
  const report = await sluice(['report', '--store', store, '--job', options.job, '--format', 'json']);
  assert.equal(report.code, 0, report.stderr);
  return { store, report: JSON.parse(report.stdout) };
}
