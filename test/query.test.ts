// `sluice query` and `sluice export` on a real job (synth + ingest into SQLite): DuckDB tables that
// say what `report --format json` and `status --json` say, rows over kept Parquet files, exports
// that read back whole.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { sluice } from './support/cli.js';
import { synthJob } from './support/job.js';

/** Runs SQL in a DuckDB of the test's own (to write kept rows and read exports back). */
async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('sluice query and export', () => {
  let dir: string;
  let store: string;
  // biome-ignore lint/suspicious/noExplicitAny: the report JSON as the CLI prints it
  let report: any;

  const query = async (sql: string, ...more: string[]) => {
    const run = await sluice(['query', '--store', store, sql, '--format', 'json', ...more]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as Record<string, unknown>[];
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sluice-query-'));
    ({ store, report } = await synthJob(dir, { job: 'june', days: 2, seed: 5 }));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("offers the report's lists as tables with the report's numbers: by_model, by_day, status_codes", async () => {
    const byModel = await query(
      'SELECT model, version, records, rate_limited, latency_ms_p95 FROM by_model ORDER BY records DESC, model, version',
    );
    const expected = [...report.byModel]
      .sort(
        (a, b) =>
          b.records - a.records ||
          String(a.model).localeCompare(String(b.model)) ||
          String(a.version).localeCompare(String(b.version)),
      )
      .map((m) => ({
        model: m.model,
        version: m.version,
        records: m.records,
        rate_limited: m.rateLimited,
        latency_ms_p95: m.latencyMs.p95,
      }));
    assert.deepEqual(
      byModel
        .map((m) => ({ ...m }))
        .sort(
          (a, b) =>
            Number(b.records) - Number(a.records) ||
            String(a.model).localeCompare(String(b.model)) ||
            String(a.version).localeCompare(String(b.version)),
        ),
      expected,
    );
    const [days] = await query(
      'SELECT sum(records) AS records, sum(rate_limited) AS rate_limited FROM by_day',
    );
    assert.deepEqual(days, {
      records: report.records - report.recordsWithoutTime,
      rate_limited: report.byDay.reduce((n: number, d: { rateLimited: number }) => n + d.rateLimited, 0),
    });
    const codes = await query('SELECT code, records FROM status_codes ORDER BY code');
    assert.deepEqual(Object.fromEntries(codes.map((c) => [c.code, c.records])), report.statusCodes);
  });

  it('offers the items with their state, as status counts them', async () => {
    const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout);
    const states = await query(
      'SELECT state, count(*) AS n, sum(records) AS records FROM items GROUP BY state',
    );
    assert.deepEqual(states, [{ state: 'done', n: status.items.done, records: report.records }]);
    const [times] = await query('SELECT count(*) AS n FROM items WHERE finished_at >= started_at');
    assert.equal(times?.n, status.items.done);
  });

  it('prints an aligned text table and CSV with a header', async () => {
    const text = await sluice([
      'query',
      '--store',
      store,
      "SELECT class, records FROM status_classes WHERE class = 'rateLimited'",
    ]);
    assert.equal(text.code, 0, text.stderr);
    const n = report.statusClasses.rateLimited.toLocaleString('en-US');
    assert.equal(
      text.stdout,
      `class        records\n-----------  ${'-'.repeat(Math.max(7, n.length))}\nrateLimited  ${n.padStart(7)}\n(1 row)\n`,
    );
    const csv = await sluice([
      'query',
      '--store',
      store,
      'SELECT day, records FROM by_day ORDER BY day LIMIT 1',
      '--format',
      'csv',
    ]);
    assert.equal(csv.stdout, `day,records\n${report.byDay[0].day},${report.byDay[0].records}\n`);
  });

  it('says how to get rows when the job kept none, and a bad query is a usage error naming the tables (exit 2)', async () => {
    const rows = await sluice(['query', '--store', store, 'SELECT count(*) FROM rows']);
    assert.equal(rows.code, 2);
    assert.match(rows.stderr, /this job kept no rows: re-run ingest with --keep-rows/);
    const bad = await sluice(['query', '--store', store, 'SELECT nope FROM by_model']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /nope[\s\S]*the tables of job "june": items, runs, events, workers, .*by_model/);
  });

  it('reads kept rows from the Parquet files beside the store', async () => {
    const kept = path.join(`${store}.rows`, 'june', 'part=1');
    await mkdir(kept, { recursive: true });
    await duck(
      `COPY (SELECT 'blob-' || (i % 3) AS blob, i AS line, CASE WHEN i % 4 = 0 THEN 429 ELSE 200 END AS status FROM range(1000) t(i)) TO '${path.join(kept, 'rows.parquet')}' (FORMAT parquet)`,
    );
    const [limited] = await query('SELECT count(*) AS n FROM rows WHERE status = 429');
    assert.deepEqual(limited, { n: 250 });
    await rm(`${store}.rows`, { recursive: true });
  });

  it('exports every table as zstd Parquet that reads back whole, or as CSV', async () => {
    const out = path.join(dir, 'parquet');
    const run = await sluice(['export', '--store', store, '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const files = (await readdir(out)).sort();
    for (const table of [
      'by_day.parquet',
      'by_model.parquet',
      'items.parquet',
      'report.parquet',
      'status_codes.parquet',
    ])
      assert.ok(files.includes(table), `${table} in ${files.join(', ')}`);
    const [modelRecords] = await duck(
      `SELECT sum(records) AS n FROM '${path.join(out, 'by_model.parquet')}'`,
    );
    assert.equal(Number(modelRecords?.n), report.records);
    const [codec] = await duck(
      `SELECT DISTINCT compression FROM parquet_metadata('${path.join(out, 'items.parquet')}')`,
    );
    assert.equal(codec?.compression, 'ZSTD');

    const csvOut = path.join(dir, 'csv');
    assert.equal((await sluice(['export', '--store', store, '--out', csvOut, '--format', 'csv'])).code, 0);
    const byDay = (await readFile(path.join(csvOut, 'by_day.csv'), 'utf8')).trim().split('\n');
    assert.equal(byDay[0], 'day,records,success,rate_limited,client_error,server_error,no_status');
    assert.equal(byDay.length, report.byDay.length + 1);
  });
});
