// What `--keep-rows` costs and gives: ingest time with and without it (the same dataset, the same
// machine, alternating runs), the Parquet it keeps against the same rows as CSV, and a `sluice query`
// over the rows against DuckDB reading that CSV. The kept rows are checked against truth.json.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { cachedDataset, sizeLabel, warmPageCache } from './support/dataset.js';
import { type Measured, measure } from './support/measure.js';
import type { BenchOptions, Section } from './support/section.js';
import { CLI, requireBuild } from './support/sluice.js';
import { median, ratio, seconds, thousands } from './support/stats.js';
import { markdownTable } from './support/table.js';

const DATASET = { full: { size: 200e6, seed: 7, days: 20 }, quick: { size: 20e6, seed: 7, days: 3 } };

/** The question the rows are for: per model and version, calls, 429s and p95 latency. */
const QUESTION =
  'SELECT model, model_version, count(*) AS calls, count(*) FILTER (WHERE status = 429) AS rate_limited, ' +
  'quantile_cont(duration_ms, 0.95) AS p95_ms FROM rows GROUP BY ALL ORDER BY calls DESC';
const EXACT = 'SELECT count(*), count(DISTINCT (blob, line)), count(*) FILTER (WHERE status = 429) FROM rows';

function bytesUnder(dir: string, ext: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    if (!f.endsWith(ext)) continue;
    bytes += statSync(join(dir, f)).size;
    files += 1;
  }
  return { bytes, files };
}

/** Sizes of any scale: kB below a megabyte (the kept rows of a small dataset are). */
function size(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} kB`;
}

function check(run: Measured, what: string): Measured {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code ?? run.signal}: ${run.stderr.slice(-500)}`);
  return run;
}

export async function runRows(o: BenchOptions): Promise<Section> {
  requireBuild();
  const spec = o.quick ? DATASET.quick : DATASET.full;
  const ds = await cachedDataset(spec, o.say);
  warmPageCache(ds.dir);
  const plain = join(o.scratch, 'rows-plain.db');
  const kept = join(o.scratch, 'rows-kept.db');
  const ingest = (store: string, extra: string[]) => {
    rmSync(store, { force: true });
    rmSync(`${store}-wal`, { force: true });
    rmSync(`${store}-shm`, { force: true });
    rmSync(`${store}.rows`, { recursive: true, force: true });
    return measure(process.execPath, [
      CLI,
      'ingest',
      ds.dir,
      '--store',
      store,
      '--progress',
      'none',
      ...extra,
    ]);
  };
  // Alternating, so a busy moment of the machine falls on both alike.
  const without: number[] = [];
  const withRows: number[] = [];
  for (let i = 0; i < o.runs; i += 1) {
    without.push(check(await ingest(plain, []), 'ingest').wallMs);
    withRows.push(check(await ingest(kept, ['--keep-rows']), 'ingest --keep-rows').wallMs);
    o.say(
      `rows: run ${i + 1}: ${seconds(without.at(-1) as number)} without, ${seconds(withRows.at(-1) as number)} with --keep-rows`,
    );
  }

  const exact = JSON.parse(
    check(
      await measure(process.execPath, [CLI, 'query', '--store', kept, EXACT, '--format', 'json']),
      'query',
    ).stdout,
  ) as Record<string, number>[];
  const [n, distinct, limited] = Object.values(exact[0] ?? {}).map(Number);
  const truthLimited = (ds.truth.statusClasses as Record<string, number>).rateLimited;
  const exactOk = n === ds.records && distinct === ds.records && limited === truthLimited;

  // The same rows as CSV, written by DuckDB from the kept files.
  const rowsDir = join(`${kept}.rows`);
  const parquet = bytesUnder(rowsDir, '.parquet');
  const csv = join(o.scratch, 'rows.csv');
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  const csvQueryMs: number[] = [];
  try {
    await connection.run(
      `COPY (SELECT * EXCLUDE (day) FROM read_parquet('${join(rowsDir, '**', '*.parquet')}')) TO '${csv}' (FORMAT csv, HEADER true)`,
    );
    await connection.run(`CREATE VIEW rows AS SELECT * FROM read_csv('${csv}', header = true)`);
    for (let i = 0; i < o.runs; i += 1) {
      const started = performance.now();
      await connection.runAndReadAll(QUESTION);
      csvQueryMs.push(performance.now() - started);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  const csvBytes = statSync(csv).size;
  // The same question from a process of its own, as `sluice query` is: Node, DuckDB, the CSV.
  const csvProcess = `import { DuckDBInstance } from '@duckdb/node-api';
const c = await (await DuckDBInstance.create(':memory:')).connect();
await c.run(${JSON.stringify(`CREATE VIEW rows AS SELECT * FROM read_csv('${csv}', header = true)`)});
await c.runAndReadAll(${JSON.stringify(QUESTION)});`;
  const csvProcessMs: number[] = [];
  for (let i = 0; i < o.runs; i += 1) {
    csvProcessMs.push(
      check(await measure(process.execPath, ['--input-type=module', '-e', csvProcess]), 'DuckDB over the CSV')
        .wallMs,
    );
  }
  const queryMs: number[] = [];
  for (let i = 0; i < o.runs; i += 1) {
    queryMs.push(
      check(await measure(process.execPath, [CLI, 'query', '--store', kept, QUESTION]), 'query').wallMs,
    );
  }
  // The cost of starting a query at all (a process, the store's tables into DuckDB), to set it apart.
  const emptyRuns: number[] = [];
  for (let i = 0; i < o.runs; i += 1) {
    emptyRuns.push(
      check(await measure(process.execPath, [CLI, 'query', '--store', kept, 'SELECT 1']), 'query').wallMs,
    );
  }
  const emptyMs = median(emptyRuns);
  rmSync(csv, { force: true });

  const base = median(without);
  const cost = median(withRows) / base - 1;
  return {
    name: 'rows',
    title: `--keep-rows: ${thousands(ds.records)} records in ${thousands(ds.blobs)} blobs (${sizeLabel(ds.bytes)})`,
    table: markdownTable(
      ['what', 'measured', 'against', 'ratio'],
      [
        {
          what: 'ingest wall time',
          measured: `${seconds(median(withRows))} with --keep-rows`,
          against: `${seconds(base)} without`,
          ratio: `${ratio(median(withRows), base)} (+${Math.round(cost * 100)} %)`,
        },
        {
          what: 'rows on disk',
          measured: `${size(parquet.bytes)} Parquet (zstd, ${thousands(parquet.files)} files)`,
          against: `${size(csvBytes)} CSV`,
          ratio: `${(csvBytes / parquet.bytes).toFixed(1)}× smaller`,
        },
        {
          what: 'per-model query over every row',
          measured: `${seconds(median(queryMs))} \`sluice query\` (process included; SELECT 1: ${seconds(emptyMs)})`,
          against: `${seconds(median(csvProcessMs))} a Node process running DuckDB over the CSV`,
          ratio: ratio(median(queryMs), median(csvProcessMs)),
        },
        {
          what: 'the query alone, in process',
          measured: `${seconds(Math.max(0, median(queryMs) - emptyMs))} (\`sluice query\` less its SELECT 1, medians)`,
          against: `${seconds(median(csvQueryMs))} DuckDB over the CSV`,
          ratio: ratio(Math.max(0, median(queryMs) - emptyMs), median(csvQueryMs)),
        },
        {
          what: 'rows vs truth.json',
          measured: `${thousands(n ?? 0)} rows, ${thousands(distinct ?? 0)} distinct (blob, line), ${thousands(limited ?? 0)} 429s`,
          against: `${thousands(ds.records)} records, ${thousands(truthLimited ?? 0)} 429s`,
          ratio: exactOk ? 'exact' : 'DIFFERENT',
        },
      ],
    ),
    notes: [
      `Ingest: \`sluice ingest <dataset> --progress none\` into a fresh SQLite store, ${o.runs} alternating run(s) each (median). Target: --keep-rows costs at most 30 %.`,
      'CSV: the same rows written by DuckDB (`COPY ... (FORMAT csv, HEADER true)`), read back with `read_csv`. Target: Parquet at least 5× smaller.',
      `Query: \`${QUESTION}\`.`,
    ],
    data: {
      dataset: spec,
      records: ds.records,
      blobs: ds.blobs,
      ingestMs: { without, withRows },
      parquet,
      csvBytes,
      queryMs,
      csvQueryMs,
      csvProcessMs,
      emptyQueryMs: emptyMs,
      exact: exactOk,
    },
  };
}
