// `ingest --keep-rows`: one row per record as Parquet, committed with its item. After kill -9 and a
// resume every record's row exists exactly once; a grown blob adds only its new rows, numbered by
// their line in the blob; the columns and types are the ones DESIGN.md names; the files are zstd.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { appendFile, copyFile, mkdtemp, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { DuckDBInstance } from '@duckdb/node-api';
import { RowCollector, timeMicros } from '../src/rows/batch.js';
import { filesToRead } from '../src/rows/compact.js';
import { type RowsSink, RowsWriterThread } from '../src/rows/thread.js';
import { RowsWriter } from '../src/rows/writer.js';
import { synthesize } from '../src/synth/generate.js';
import { recordFacts } from '../src/tasks/azure-logs/record.js';
import { DEV_ACCOUNT, startAzurite } from './support/azurite.js';
import { finished, readJson, sluice, start, waitForEvent } from './support/cli.js';
import { tenRows } from './support/ten-rows.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-rows-'));
});

after(() => rm(dir, { recursive: true, force: true }));

async function query(store: string, sql: string): Promise<Record<string, unknown>[]> {
  const run = await sluice(['query', '--store', store, sql, '--format', 'json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, unknown>[];
}

const EXACTLY_ONCE =
  'SELECT count(*) AS n, count(DISTINCT (blob, line)) AS distinct_n, count(*) FILTER (WHERE status = 429) AS limited FROM rows';

/** Every PT1H.json under `root`, relative to it. */
async function blobsUnder(root: string): Promise<string[]> {
  const all = (await readdir(root, { recursive: true })) as string[];
  return all.filter((f) => f.endsWith('PT1H.json')).sort();
}

/** The 1-based lines of `text` that hold one record (a JSON object): worked out here, not by sluice. */
function recordLines(text: string): number[] {
  const lines: number[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) lines.push(i + 1);
    } catch {
      // not a record
    }
  }
  return lines;
}

describe('ingest --keep-rows', () => {
  it('kill -9 midway, then resume: every record has exactly one row, and 429s match the truth', async () => {
    const data = path.join(dir, 'crash-data');
    // Big enough (2,880 blobs) that the kill lands mid-run.
    await synthesize({ dir: data, seed: 7, days: 12, resources: 3, recordsPerHour: 30 });
    const truth = await readJson(path.join(data, 'truth.json'));
    const store = path.join(dir, 'killed.db');
    const args = [
      'ingest',
      data,
      '--store',
      store,
      '--keep-rows',
      '--progress',
      'json',
      '--concurrency',
      '4',
    ];

    const child = start(args);
    const done = finished(child);
    let commits = 0;
    await waitForEvent(child, (e) => e.event === 'commit' && ++commits >= 2);
    child.kill('SIGKILL');
    assert.equal((await done).signal, 'SIGKILL');
    const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
      items: Record<string, number>;
    };
    assert.ok(
      (status.items.done ?? 0) < (truth.items as { total: number }).total,
      'the kill left work to do',
    );

    // What an attempt that never committed leaves: a file of rows that no checkpoint names.
    const kept = path.join(`${store}.rows`);
    const written = ((await readdir(kept, { recursive: true })) as string[]).filter((f) =>
      f.endsWith('.parquet'),
    );
    assert.ok(written.length > 0, 'the killed run wrote rows');
    const orphan = (written[0] as string).replace(/-\d+-(\d+)-0\.parquet$/, '-999999-$1-0.parquet');
    await copyFile(path.join(kept, written[0] as string), path.join(kept, orphan));

    const rest = await sluice(args);
    assert.equal(rest.code, 0, rest.stderr);
    const classes = truth.statusClasses as Record<string, number>;
    assert.deepEqual(await query(store, EXACTLY_ONCE), [
      { n: truth.records, distinct_n: truth.records, limited: classes.rateLimited },
    ]);
    // Each row has its record's model and version, NULL where the record names none.
    type ModelCount = { model: string | null; version: string | null; records: number; limited: number };
    const order = (rows: ModelCount[]) =>
      rows.sort((a, b) => `${a.model}/${a.version}`.localeCompare(`${b.model}/${b.version}`));
    const byModel = (await query(
      store,
      'SELECT model, model_version AS version, count(*) AS records, count(*) FILTER (WHERE status = 429) AS limited FROM rows GROUP BY ALL',
    )) as ModelCount[];
    const expected = (truth.byModel as (ModelCount & { rateLimited: number })[]).map((m) => ({
      model: m.model,
      version: m.version,
      records: m.records,
      limited: m.rateLimited,
    }));
    assert.ok(expected.some((m) => m.model === null) && expected.some((m) => m.model !== null));
    assert.deepEqual(order(byModel), order(expected));
  });

  it('a grown append blob adds only its new rows, numbered by their line in the blob', async () => {
    const data = path.join(dir, 'grow-data');
    await synthesize({ dir: data, seed: 11, days: 1, resources: 2, recordsPerHour: 40 });
    const truth = await readJson(path.join(data, 'truth.json'));
    // The largest blob of JSON lines, cut mid-line, as if it were still being written.
    let grown = '';
    let size = 0;
    for (const blob of await blobsUnder(data)) {
      const text = await readFile(path.join(data, blob), 'utf8');
      if (text.startsWith('{"time"') && text.length > size) {
        grown = blob;
        size = text.length;
      }
    }
    const file = path.join(data, grown);
    const whole = await readFile(file);
    const cut = whole.indexOf('\n{"time"', Math.floor(whole.length / 2)) + 20;
    await truncate(file, cut);

    const store = path.join(dir, 'grown.db');
    const args = ['ingest', data, '--store', store, '--keep-rows', '--progress', 'none'];
    assert.equal((await sluice(args)).code, 0);
    const before = await query(store, `SELECT count(*) AS n FROM rows WHERE blob = '${grown}'`);
    // The cut last line is no row yet (it does not parse, here either).
    assert.deepEqual(before, [{ n: recordLines(whole.subarray(0, cut).toString('utf8')).length }]);

    await appendFile(file, whole.subarray(cut));
    const again = await sluice(args);
    assert.equal(again.code, 0, again.stderr);
    const classes = truth.statusClasses as Record<string, number>;
    assert.deepEqual(await query(store, EXACTLY_ONCE), [
      { n: truth.records, distinct_n: truth.records, limited: classes.rateLimited },
    ]);
    const lines = await query(store, `SELECT line FROM rows WHERE blob = '${grown}' ORDER BY line`);
    assert.deepEqual(
      lines.map((r) => r.line),
      recordLines(whole.toString('utf8')),
    );
  });

  it('has the columns DESIGN.md names, with their types, in zstd Parquet files by day; export keeps them by day', async () => {
    const store = path.join(dir, 'grown.db');
    const columns = await query(
      store,
      "SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_name = 'rows' ORDER BY ordinal_position",
    );
    const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
    assert.deepEqual(
      {
        blob: types.blob,
        line: types.line,
        time: types.time,
        model: types.model,
        model_version: types.model_version,
        deployment: types.deployment,
        operation: types.operation,
        status: types.status,
        status_class: types.status_class,
        duration_ms: types.duration_ms,
        day: types.day,
      },
      {
        blob: 'VARCHAR',
        line: 'BIGINT',
        time: 'TIMESTAMP',
        model: 'VARCHAR',
        model_version: 'VARCHAR',
        deployment: 'VARCHAR',
        operation: 'VARCHAR',
        status: 'INTEGER',
        status_class: 'VARCHAR',
        duration_ms: 'DOUBLE',
        day: 'DATE',
      },
    );
    const kept = path.join(`${store}.rows`);
    const files = ((await readdir(kept, { recursive: true })) as string[]).filter((f) =>
      f.endsWith('.parquet'),
    );
    assert.ok(
      files.length > 0 && files.every((f) => /day=(\d{4}-\d{2}-\d{2}|__HIVE_DEFAULT_PARTITION__)\//.test(f)),
    );
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const glob = path.join(kept, '**', '*.parquet');
      const codecs = (
        await connection.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${glob}')`)
      ).getRowsJson();
      assert.deepEqual(codecs, [['ZSTD']]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }

    const out = path.join(dir, 'export');
    const exported = await sluice(['export', '--store', store, '--out', out]);
    assert.equal(exported.code, 0, exported.stderr);
    const days = await readdir(path.join(out, 'rows'));
    assert.ok(days.length > 0 && days.every((d) => d.startsWith('day=')), days.join(', '));
    assert.ok((await stat(path.join(out, 'by_model.parquet'))).isFile());
  });

  it('numbers the rows of a remote blob parsed in chunks by their line in the blob, and a records-form blob by record', async () => {
    // One blob of JSON lines several chunks long (chunks are 4 MiB), with blank and junk lines, and
    // one {"records": [...]} blob; built from records of the grow test's data.
    const growData = path.join(dir, 'grow-data');
    const texts = await Promise.all(
      (await blobsUnder(growData)).map((b) => readFile(path.join(growData, b), 'utf8')),
    );
    const sample = texts
      .flatMap((t) => t.split('\n'))
      .filter((l) => l.startsWith('{"time"'))
      .slice(0, 500);
    assert.ok(sample.length >= 25);
    const lines: string[] = [];
    for (let i = 0; lines.length < 30_000; i += 1) {
      lines.push(sample[i % sample.length] as string);
      if (i % 97 === 0) lines.push('');
      if (i % 1001 === 0) lines.push('not json');
    }
    const big = `${lines.join('\n')}\n`;
    assert.ok(big.length > 9 << 20, `the blob spans several chunks (${big.length} bytes)`);
    const wrapper = `{"records": [${sample.slice(0, 25).join(',\n')}]}`;
    const azurite = await startAzurite();
    try {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
        'rows',
      );
      await container.create();
      const bigName = 'y=2024/m=06/d=01/h=00/m=00/PT1H.json';
      const wrapperName = 'y=2024/m=06/d=01/h=01/m=00/PT1H.json';
      await container.getBlockBlobClient(bigName).upload(big, Buffer.byteLength(big));
      await container.getBlockBlobClient(wrapperName).upload(wrapper, Buffer.byteLength(wrapper));
      const store = path.join(dir, 'remote.db');
      const run = await sluice(
        ['ingest', `azure://${DEV_ACCOUNT}/rows`, '--store', store, '--keep-rows', '--progress', 'none'],
        { env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString } },
      );
      assert.equal(run.code, 0, run.stderr);
      const got = await query(store, `SELECT line FROM rows WHERE blob = '${bigName}' ORDER BY line`);
      assert.deepEqual(
        got.map((r) => r.line),
        recordLines(big),
      );
      const records = await query(store, `SELECT line FROM rows WHERE blob = '${wrapperName}' ORDER BY line`);
      assert.deepEqual(
        records.map((r) => r.line),
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
    } finally {
      await azurite.stop();
    }
  });

  it('with a PostgreSQL store, --keep-rows needs --rows-dir (exit 2, saying so)', async () => {
    const run = await sluice([
      'ingest',
      path.join(dir, 'grow-data'),
      '--store',
      'postgres://postgres@127.0.0.1:5432/none',
      '--keep-rows',
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--keep-rows with a PostgreSQL store needs --rows-dir <dir>/);
  });
});

/** The writer where the test runs, and the one ingest uses: the same writer on a thread of its own. */
const WRITERS: [string, (rowsDir: string) => Promise<RowsSink>][] = [
  ['on the calling thread', (rowsDir) => RowsWriter.open(rowsDir, 2)],
  ['on its own thread', (rowsDir) => RowsWriterThread.open(rowsDir, 2)],
];

/** A pass of 10 rows of item `item`, over two days; line 3 is a 429. */

for (const [where, openWriter] of WRITERS)
  describe(`merging small row files (writer ${where})`, () => {
    it('reads a merged file in place of its committed sources, never an uncommitted pass, and not after a recount', async () => {
      const rowsDir = path.join(dir, `merge-rows-${where.replaceAll(' ', '-')}`);
      const writer = await openWriter(rowsDir);
      // Merged from 64 files here (COMPACT_AT, the default, is larger: merging pays only for many).
      const passes = 64 + 6;
      const committed: string[] = [];
      try {
        for (let p = 0; p < passes; p += 1) {
          const files = await writer.write({ item: `blob-${p}`, fence: 1, offset: 0 }, [
            { batch: tenRows(`blob-${p}`) },
          ]);
          // The last passes never commit: no checkpoint names their files.
          if (p < passes - 3) committed.push(...(files.get(`blob-${p}`) ?? []));
        }
        let asked = 0;
        const committedFiles = async () => {
          asked += 1;
          return committed;
        };
        assert.equal(
          await writer.compact(committedFiles, passes * 2 + 1),
          0,
          'fewer files in the folder than the threshold: left as they are',
        );
        assert.equal(asked, 0, 'without reading which are committed');
        assert.equal(
          await writer.compact(committedFiles, committed.length + 1),
          0,
          'enough files in the folder, but fewer of them committed: left as they are',
        );
        assert.equal(asked, 1);
        const merged = await writer.compact(committedFiles, 64);
        assert.equal(merged, committed.length);
      } finally {
        await writer.close();
      }
      const count = async (files: string[]) => {
        const instance = await DuckDBInstance.create(':memory:');
        const connection = await instance.connect();
        try {
          const list = files.map((f) => `'${path.join(rowsDir, f)}'`).join(', ');
          const sql = `SELECT count(*)::INTEGER AS n, count(DISTINCT (blob, line))::INTEGER AS d, count(DISTINCT day)::INTEGER AS days FROM read_parquet([${list}], hive_partitioning = true)`;
          return (await connection.runAndReadAll(sql)).getRowObjectsJson()[0];
        } finally {
          connection.closeSync();
          instance.closeSync();
        }
      };
      const read = await filesToRead(rowsDir, committed);
      assert.equal(read.length, 2, 'one merged file per day');
      assert.deepEqual(await count(read), { n: (passes - 3) * 10, d: (passes - 3) * 10, days: 2 });
      // After --recount no old file is named: the merged files are not read either.
      assert.deepEqual(await filesToRead(rowsDir, []), []);
    });
  });

describe('a row time', () => {
  it('is the microseconds since the epoch of its key, whichever hour came before', () => {
    const keys = [
      '2024-06-01T10:00:00.0000000Z',
      '2024-06-01T10:59:59.9999999Z',
      '2024-06-01T11:00:00.0000010Z',
      '2024-06-01T10:30:15.1234567Z',
      '2024-12-31T23:59:59.5000000Z',
      '2025-01-01T00:00:00.0000000Z',
    ];
    for (const key of [...keys, ...keys.reverse()]) {
      const expected = Date.parse(`${key.slice(0, 19)}Z`) * 1000 + Number(key.slice(20, 26));
      assert.equal(timeMicros(key), expected, key);
    }
  });
});

describe('the rows writer', () => {
  it('writes every value and every NULL as given, across data chunks, with ENUMs wider than a byte', async () => {
    const rowsDir = path.join(dir, 'values-rows');
    // 300 blobs (a 16-bit ENUM), 6,000 rows (three data chunks) in two parts, the second numbered
    // on from a line base; NULLs in the first and third chunk only, each column at its own rows.
    type Row = {
      blob: string;
      line: number;
      model: string | null;
      status: number | null;
      duration_ms: number | null;
      time: string | null;
    };
    const expected: Row[] = [];
    const part = (first: number, count: number, lineBase: number) => {
      const rows = new RowCollector();
      for (let i = first; i < first + count; i += 1) {
        const blob = `blob-${String(i % 300).padStart(3, '0')}`;
        const nullHere = (k: number) => (i < 2048 && i % k === 0) || (i >= 4096 && i % (k + 2) === 1);
        const time = nullHere(11) ? null : `2024-06-0${1 + (i % 3)}T10:00:00.0000000Z`;
        const model = nullHere(7) ? null : `model-${i % 4}`;
        const status = nullHere(13) ? null : i % 9 === 0 ? 429 : 200;
        const duration = status === null || nullHere(5) ? null : i % 1000;
        rows.add(
          i - first + 1,
          recordFacts({
            ...(time ? { time } : {}),
            ...(status ? { resultSignature: String(status) } : {}),
            ...(duration !== null ? { durationMs: duration } : {}),
            ...(model ? { properties: { modelName: model } } : {}),
          }),
        );
        rows.endItem(blob);
        expected.push({
          blob,
          line: i - first + 1 + lineBase,
          model,
          status,
          duration_ms: duration,
          time: time ? `${time.slice(0, 10)} 10:00:00` : null,
        });
      }
      return { batch: rows.take(), lineBase };
    };
    const writer = await RowsWriter.open(rowsDir, 1);
    try {
      await writer.write({ item: 'blob-000', fence: 1, offset: 0 }, [
        part(0, 3000, 0),
        part(3000, 3000, 5000),
      ]);
    } finally {
      writer.close();
    }
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const read = await connection.runAndReadAll(
        `SELECT blob, line::INTEGER AS line, model, status, duration_ms::INTEGER AS duration_ms, strftime(time, '%Y-%m-%d %H:%M:%S') AS time
           FROM read_parquet('${rowsDir}/**/*.parquet', hive_partitioning = true) ORDER BY blob, line`,
      );
      const byKey = (a: Row, b: Row) => (a.blob === b.blob ? a.line - b.line : a.blob < b.blob ? -1 : 1);
      assert.deepEqual(read.getRowObjectsJson() as unknown as Row[], expected.sort(byKey));
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

describe('the rows writer thread', () => {
  it("moves a pass's buffers to its thread, and when the thread dies, fails what it held and starts again", async () => {
    // In a child process, tried again when DuckDB aborts it: see test/support/rows-writer-dies.ts.
    let child: SpawnSyncReturns<string> | undefined;
    for (let attempt = 1; attempt <= 6 && child?.status !== 0; attempt += 1) {
      child = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'test/support/rows-writer-dies.ts', path.join(dir, `thread-rows-${attempt}`)],
        { encoding: 'utf8' },
      );
      // Any end but 0 or that one abort (DuckDB's C++ exception as the dead thread is cleaned up) fails.
      const abortedInDuckDb = child.signal === 'SIGABRT' && child.stderr.includes("'Napi::Error'");
      assert.ok(
        child.status === 0 || abortedInDuckDb,
        `exit ${child.status ?? child.signal}: ${child.stderr}`,
      );
    }
    assert.equal(child?.status, 0, 'six runs in a row aborted in DuckDB');
    const out = JSON.parse(child?.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    assert.equal(out.filesA, 2, 'a file per day');
    assert.equal(out.leftBehind, 0, 'the buffers moved to the thread, not copied');
    // The thread died while a write waited on it: that write failed, saying why; the next one worked.
    assert.match(String(out.held), /rows: the writer thread failed/);
    assert.equal(out.filesC, 2);
    assert.match(String(out.afterClose), /the writer is closed/);
  });
});
