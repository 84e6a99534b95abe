// `sluice health` as a monitoring system runs it: on a real job (synth + ingest), its exit code is
// the verdict (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, bad usage included) and one line says why.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sluice } from './support/cli.js';
import { synthJob } from './support/job.js';

describe('sluice health', () => {
  let dir: string;
  let store: string;
  /** The job's share of 429s, in percent, from its own report. */
  let rateLimitedPct: number;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sluice-health-'));
    const job = await synthJob(dir, { job: 'june', days: 3, seed: 3 });
    store = job.store;
    // biome-ignore lint/suspicious/noExplicitAny: the report JSON as the CLI prints it
    const report = job.report as any;
    rateLimitedPct = (report.statusClasses.rateLimited * 100) / report.records;
    // The synthetic data throttles a few percent of calls: the rules below are about that.
    assert.ok(rateLimitedPct > 1 && rateLimitedPct < 60, `rate limited ${rateLimitedPct} %`);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is CRITICAL (exit 2) when a --crit rule holds, saying which and by how much', async () => {
    const run = await sluice(['health', '--store', store, '--crit', 'rateLimited>1%']);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    const shown = (Math.round(rateLimitedPct * 100) / 100).toString();
    assert.match(
      run.stdout,
      new RegExp(
        `^SLUICE CRITICAL - rateLimited>1% \\(rateLimited ${shown.replace('.', '\\.')} %, critical\\) - job june: `,
      ),
    );
    assert.match(run.stdout, / \| .*rateLimited=[\d.]+%;;1;0;100/);
    assert.equal(run.stdout.split('\n').length, 2, 'one line');
  });

  it('is OK (exit 0) when no rule holds: a rule on a metric replaces its default', async () => {
    const run = await sluice(['health', '--store', store, '--crit', 'rateLimited>60%']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /^SLUICE OK - job june: [\d,]+ records, [\d.]+ % rate limited, .*0 failed items \| /,
    );
  });

  it('is WARNING (exit 1) for a --warn rule, and --json says the same as an object', async () => {
    const run = await sluice([
      'health',
      '--store',
      store,
      '--warn',
      'rateLimited>=1%',
      '--no-defaults',
      '--json',
    ]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.status, 'WARNING');
    assert.equal(out.code, 1);
    assert.equal(out.job, 'june');
    assert.deepEqual(
      out.checks.map((c: { rule: string; breached: boolean }) => [c.rule, c.breached]),
      [['rateLimited>=1%', true]],
    );
    assert.ok(Math.abs(out.checks[0].value - rateLimitedPct) < 0.001);
  });

  it('is UNKNOWN (exit 3) for bad usage: a rule it cannot read, an unknown option, a missing store', async () => {
    for (const args of [
      ['--crit', 'rateLimited>>1%'],
      ['--crit', 'latency>5'],
      ['--bogus'],
      ['--warn'],
      ['--store', path.join(dir, 'missing.db')],
      ['--job', 'nope'],
    ]) {
      const run = await sluice(['health', '--store', store, ...args]);
      assert.equal(run.code, 3, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stdout, /^SLUICE UNKNOWN - /, args.join(' '));
    }
  });

  it("checks an analyze result's health score: below 70 warns, --crit 'score<50' and a score of 40 is CRITICAL", async () => {
    const result = path.join(dir, 'analyze.json');
    await writeFile(result, JSON.stringify({ files: [], health: { score: 64, grade: 'D', penalties: [] } }));
    const warn = await sluice(['health', '--analyze', result]);
    assert.equal(warn.code, 1, warn.stdout + warn.stderr);
    assert.match(warn.stdout, /^SLUICE WARNING - score<70 .*health score 64/);
    await writeFile(result, JSON.stringify({ health: { score: 40, grade: 'F' } }));
    const crit = await sluice(['health', '--analyze', result, '--store', store]);
    assert.equal(crit.code, 2, crit.stdout + crit.stderr);
    assert.match(crit.stdout, /job june: .*health score 40/);
    await writeFile(result, '{"files": []}');
    assert.equal((await sluice(['health', '--analyze', result])).code, 3);
  });
});
