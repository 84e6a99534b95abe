// Ingest end to end through the CLI: exact against the dataset's truth, resumable, incremental,
// failures isolated and retried, bad input refused with exit 2 and a clear message.
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compareReports } from '../src/report/compare.js';
import { synthesize } from '../src/synth/generate.js';
import { readJson, sluice } from './support/cli.js';

let dir: string;
let data: string;
let truth: Record<string, unknown>;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-ingest-'));
  data = path.join(dir, 'data');
  await synthesize({ dir: data, seed: 11, days: 3, resources: 2, recordsPerHour: 40 });
  truth = await readJson(path.join(data, 'truth.json'));
});

after(() => rm(dir, { recursive: true, force: true }));

async function report(store: string, job?: string): Promise<Record<string, unknown>> {
  const r = await sluice(['report', '--store', store, '--format', 'json', ...(job ? ['--job', job] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const noStack = (text: string) =>
  assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `no stack trace expected:\n${text}`);

describe('ingest of a folder', () => {
  it('reports exactly what the dataset holds (truth.json) on every contract key', async () => {
    const store = path.join(dir, 'exact.db');
    const run = await sluice(['ingest', data, '--store', store]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(compareReports(await report(store), truth), []);
  });

  it('prints status --json with the contract keys', async () => {
    const store = path.join(dir, 'exact.db');
    const r = await sluice(['status', '--store', store, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { job: string; items: Record<string, number> };
    assert.equal(typeof s.job, 'string');
    const total = (truth.items as { total: number }).total;
    assert.deepEqual(s.items, { total, pending: 0, leased: 0, done: total, failed: 0 });
  });

  it('says a finished job is complete and changes nothing when run again', async () => {
    const store = path.join(dir, 'exact.db');
    const before = await report(store);
    const again = await sluice(['ingest', data, '--store', store]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /is complete: .* nothing new to ingest/);
    assert.deepEqual(await report(store), before);
  });

  it('renders text and CSV reports, to stdout or a file', async () => {
    const store = path.join(dir, 'exact.db');
    const text = await sluice(['report', '--store', store]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /rate limited \(429\)/);
    assert.match(text.stdout, /by model and version/);
    const out = path.join(dir, 'r.csv');
    const csv = await sluice(['report', '--store', store, '--format', 'csv', '--out', out]);
    assert.equal(csv.code, 0, csv.stderr);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    assert.match(lines[0] ?? '', /^section,day,model,version,name,records,success,rateLimited/);
    assert.equal(lines.filter((l) => l.startsWith('day,')).length, (truth.byDay as unknown[]).length);
  });

  it('counts appended records once when a job is run again (append blobs growing)', async () => {
    const folder = path.join(dir, 'grow');
    const hour = path.join(folder, 'y=2025', 'm=06', 'd=09', 'h=14', 'm=00');
    await mkdir(hour, { recursive: true });
    const blob = path.join(hour, 'PT1H.json');
    const rec = (sig: string, t: string) =>
      JSON.stringify({
        time: `2025-06-09T14:${t}.0000000Z`,
        category: 'RequestResponse',
        resultSignature: sig,
        durationMs: 100,
        properties: { modelName: 'gpt-4o', modelVersion: '1' },
      });
    const cutLine = rec('429', '00:02');
    await writeFile(blob, `${rec('200', '00:01')}\n${cutLine.slice(0, 25)}`);
    const store = path.join(dir, 'grow.db');
    assert.equal((await sluice(['ingest', folder, '--store', store])).code, 0);
    const first = await report(store);
    assert.equal(first.records, 1);
    assert.equal(first.malformedLines, 1, 'the cut line is malformed for now');
    await appendFile(blob, `${cutLine.slice(25)}\n${rec('500', '00:03')}\n`);
    const hour2 = path.join(folder, 'y=2025', 'm=06', 'd=09', 'h=15', 'm=00');
    await mkdir(hour2, { recursive: true });
    await writeFile(path.join(hour2, 'PT1H.json'), `${rec('200', '59:59')}\n`);
    const second = await sluice(['ingest', folder, '--store', store]);
    assert.equal(second.code, 0, second.stderr);
    const after = await report(store);
    // The same as ingesting the final files from scratch.
    const fresh = path.join(dir, 'grow-fresh.db');
    assert.equal((await sluice(['ingest', folder, '--store', fresh])).code, 0);
    const scratch = await report(fresh);
    assert.deepEqual(compareReports(after, scratch), []);
    assert.equal(after.records, 4);
    assert.equal(after.malformedLines, 0);
    assert.deepEqual(after.statusClasses, {
      success: 2,
      rateLimited: 1,
      clientError: 0,
      serverError: 1,
      noStatus: 0,
    });
  });

  it('isolates an unreadable item: the run goes on, the item ends failed at once (a missing file is permanent) with its error, --retry-failed recovers it', async () => {
    const folder = path.join(dir, 'broken');
    await mkdir(path.join(folder, 'a'), { recursive: true });
    await mkdir(path.join(folder, 'b'), { recursive: true });
    await writeFile(
      path.join(folder, 'a', 'PT1H.json'),
      '{"time":"2025-06-09T14:00:00Z","resultSignature":"200"}\n',
    );
    const target = path.join(dir, 'broken-target.json');
    await symlink(target, path.join(folder, 'b', 'PT1H.json')); // dangling: reading it fails
    const store = path.join(dir, 'broken.db');
    const run = await sluice([
      'ingest',
      folder,
      '--store',
      store,
      '--max-attempts',
      '3',
      '--retry-delay',
      '20',
    ]);
    assert.equal(run.code, 1, run.stderr);
    const status = await sluice(['status', '--store', store, '--json']);
    const s = JSON.parse(status.stdout) as {
      items: Record<string, number>;
      failures: { id: string; attempts: number; error: string }[];
    };
    assert.equal(s.items.done, 1);
    assert.equal(s.items.failed, 1);
    assert.equal(s.failures[0]?.id, 'b/PT1H.json');
    // A missing file is a permanent failure: trying again cannot help, so no attempt is spent on it.
    assert.equal(s.failures[0]?.attempts, 1);
    assert.match(s.failures[0]?.error ?? '', /ENOENT/);
    const text = await sluice(['status', '--store', store]);
    assert.match(text.stdout, /b\/PT1H\.json/);

    await writeFile(target, '{"time":"2025-06-09T15:00:00Z","resultSignature":"429"}\n');
    const retry = await sluice(['ingest', folder, '--store', store, '--retry-failed']);
    assert.equal(retry.code, 0, retry.stderr);
    const r = await report(store);
    assert.deepEqual(r.items, { total: 2, done: 2, failed: 0, pending: 0, leased: 0 });
    assert.equal(r.records, 2);
  });

  it('splits a job across static partitions that together count everything once', async () => {
    const stores = [0, 1, 2].map((i) => path.join(dir, `part${i}.db`));
    let records = 0;
    let items = 0;
    for (const [i, store] of stores.entries()) {
      const run = await sluice(['ingest', data, '--store', store, '--partition', `${i}/3`]);
      assert.equal(run.code, 0, run.stderr);
      const r = await report(store);
      records += r.records as number;
      items += (r.items as { total: number }).total;
      assert.ok((r.items as { total: number }).total > 0, `partition ${i} has items`);
    }
    assert.equal(records, truth.records);
    assert.equal(items, (truth.items as { total: number }).total);
  });
});

describe('bad input', () => {
  const cases: [string, string[], RegExp][] = [
    ['a missing folder', ['ingest', '/nonexistent/logs'], /source folder \/nonexistent\/logs does not exist/],
    [
      'an unwritable store',
      ['ingest', '.', '--store', '/proc/nope/sluice.db'],
      /cannot open the store \/proc\/nope\/sluice\.db/,
    ],
    [
      '--from after --to',
      ['ingest', '.', '--from', '2025-06-08', '--to', '2025-06-01'],
      /--from 2025-06-08 is after --to 2025-06-01/,
    ],
    ['a date that is not one', ['ingest', '.', '--from', 'yesterday'], /--from "yesterday" is not a date/],
    [
      'an unknown --format',
      ['report', '--format', 'xml'],
      /option '--format <format>' argument 'xml' is invalid.*expected one of: text, json, csv/s,
    ],
    ['an unknown command', ['ingst', '.'], /unknown command 'ingst'/],
    ['a bad --partition', ['ingest', '.', '--partition', '3/3'], /--partition "3\/3" is not i\/n/],
    [
      'a store that does not exist for report',
      ['report', '--store', '/nonexistent/s.db'],
      /no store at \/nonexistent\/s\.db/,
    ],
    ['an unknown job', ['status', '--store', 'STORE', '--job', 'nope'], /no job "nope" in/],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ${what} with exit 2 and a message that says what and where`, async () => {
      const r = await sluice(
        args.map((a) => (a === 'STORE' ? path.join(dir, 'exact.db') : a)),
        { cwd: dir },
      );
      assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, message);
      noStack(r.stderr);
    });
  }

  it('teaches with --help: examples and exit codes', async () => {
    const r = await sluice(['ingest', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:/);
    assert.match(r.stdout, /130 interrupted/);
  });
});

describe('bounded memory', () => {
  it('ingests a dataset over 3 times larger than a 32 MB JavaScript heap (it streams; nothing is held whole)', async () => {
    const big = path.join(dir, 'big');
    const made = await synthesize({ dir: big, seed: 3, days: 20, resources: 2, size: 110_000_000 });
    assert.ok(made.bytes > 3 * 32_000_000, `dataset is ${made.bytes} bytes`);
    const store = path.join(dir, 'big.db');
    const run = await sluice(['ingest', big, '--store', store, '--progress', 'none'], {
      nodeArgs: ['--max-old-space-size=32'],
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(compareReports(await report(store), await readJson(path.join(big, 'truth.json'))), []);
  });
});
