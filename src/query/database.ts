// A job as a DuckDB database in memory: its tables streamed in from the store through the
// appender (DuckDB's sqlite/postgres scanners are extensions that cannot be downloaded here, and
// the store's JSON is not the job's shape anyway), and `rows` as a view over its kept Parquet files:
// the ones its items' checkpoints name (committed with them), or every one of a folder given.
import { access, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { duckdb } from '../duckdb.js';
import { UsageError } from '../errors.js';
import { committedRows } from '../rows/committed.js';
import { filesToRead } from '../rows/compact.js';
import { defaultRowsDir } from '../rows/paths.js';
import { ROW_COLUMNS } from '../rows/writer.js';
import type { Store } from '../store/types.js';
import { readJob } from './job.js';
import { type ColumnType, reportTables, storeTables, type TableSource } from './tables.js';

export interface JobDatabase {
  job: string;
  connection: DuckDBConnection;
  /** Every table offered, with what it holds (for `--help`-like listings and errors). */
  tables: { name: string; about: string }[];
  /** The Parquet folder behind `rows`, null when the job kept no rows. */
  rowsDir: string | null;
  close(): void;
}

export const NO_ROWS =
  'this job kept no rows: re-run ingest with --keep-rows (or point --rows at the folder of its Parquet files)';

export { defaultRowsDir };

async function hasParquet(dir: string): Promise<boolean> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) return false;
  const entries = await readdir(dir, { recursive: true });
  return entries.some((e) => e.endsWith('.parquet'));
}

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;
const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

function append(appender: DuckDBAppender, type: ColumnType, value: unknown): void {
  if (value === null || value === undefined) {
    appender.appendNull();
    return;
  }
  switch (type) {
    case 'BIGINT':
      appender.appendBigInt(BigInt(Math.trunc(Number(value))));
      break;
    case 'DOUBLE':
      appender.appendDouble(Number(value));
      break;
    case 'BOOLEAN':
      appender.appendBoolean(Boolean(value));
      break;
    case 'TIMESTAMP':
      appender.appendTimestamp(new duckdb.DuckDBTimestampValue(BigInt(Math.round(Number(value))) * 1000n));
      break;
    case 'JSON':
      appender.appendVarchar(typeof value === 'string' ? value : JSON.stringify(value));
      break;
    default:
      appender.appendVarchar(String(value));
      break;
  }
}

async function load(connection: DuckDBConnection, table: TableSource): Promise<void> {
  const columns = table.columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ');
  await connection.run(`CREATE TABLE ${ident(table.name)} (${columns})`);
  const appender = await connection.createAppender(table.name);
  try {
    for await (const row of table.rows()) {
      for (const [i, c] of table.columns.entries()) append(appender, c.type, row[i]);
      appender.endRow();
    }
  } finally {
    appender.closeSync();
  }
}

export async function openJobDatabase(
  store: Store,
  job: string,
  options: { rowsDir?: string } = {},
): Promise<JobDatabase> {
  const { status, report } = await readJob(store, job);
  const fromStore = storeTables(store, job, status);
  const tables = [
    ...fromStore,
    ...(report ? reportTables(report, new Set([...fromStore.map((t) => t.name), 'rows'])) : []),
  ];
  const committed = await committedRows(store, job);
  const dir = options.rowsDir ?? committed.dir ?? defaultRowsDir(store.location, job);
  if (committed.kept && dir !== null) {
    // Only what committed: a file of an attempt that never did is named by no checkpoint.
    const files = (await filesToRead(dir, committed.files)).map((f) => path.join(dir, f));
    const missing = (
      await Promise.all(
        files.map((f) =>
          access(f).then(
            () => null,
            () => f,
          ),
        ),
      )
    ).filter((f) => f !== null);
    if (missing.length > 0) {
      throw new UsageError(
        `${missing.length} of the ${files.length} Parquet files of job "${job}"'s rows are missing, ${missing[0]} first: ` +
          `give the folder ingest --keep-rows wrote with --rows, or re-run ingest with --recount --keep-rows`,
      );
    }
    return databaseOf(job, tables, dir, files);
  }
  const rowsDir = dir !== null && (await hasParquet(dir)) ? dir : null;
  if (options.rowsDir !== undefined && rowsDir === null) {
    throw new UsageError(
      `no Parquet files under ${options.rowsDir} (--rows): give the folder ingest --keep-rows wrote`,
    );
  }
  return databaseOf(job, tables, rowsDir);
}

/** The `rows` columns' types (ROW_COLUMNS), for a job that kept rows but has none yet. */
const ROW_TYPES: Record<(typeof ROW_COLUMNS)[number], string> = {
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
  category: 'VARCHAR',
  resource: 'VARCHAR',
};

/** `rows` over exactly `files` (the day comes from their day=<date> folders, as a DATE). */
async function rowsOver(connection: DuckDBConnection, files: string[]): Promise<void> {
  if (files.length === 0) {
    const columns = ROW_COLUMNS.map((c) => `${c} ${ROW_TYPES[c]}`).join(', ');
    await connection.run(`CREATE TABLE rows (${columns}, day DATE)`);
    return;
  }
  // The list goes in as a variable filled from a table: no SQL text as long as every file's name.
  await connection.run('CREATE TEMP TABLE rows_files (file VARCHAR)');
  const appender = await connection.createAppender('rows_files');
  try {
    for (const f of files) {
      appender.appendVarchar(f);
      appender.endRow();
    }
  } finally {
    appender.closeSync();
  }
  await connection.run('SET VARIABLE rows_files = (SELECT list(file ORDER BY file) FROM rows_files)');
  await connection.run(
    `CREATE VIEW rows AS SELECT * FROM read_parquet(getvariable('rows_files'), hive_partitioning = true)`,
  );
}

/**
 * A DuckDB database in memory holding `tables`, and `rows` over the Parquet files under `rowsDir`:
 * `files` (paths) when given, else every one in the folder.
 */
export async function databaseOf(
  job: string,
  tables: TableSource[],
  rowsDir: string | null,
  files?: string[],
): Promise<JobDatabase> {
  // Nothing is fetched: extensions neither install nor load on their own (parquet and json are built in).
  const instance = await duckdb.DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  const close = () => {
    connection.closeSync();
    instance.closeSync();
  };
  try {
    for (const table of tables) await load(connection, table);
    const listed = tables.map((t) => ({ name: t.name, about: t.about }));
    if (rowsDir !== null && files) {
      await rowsOver(connection, files);
      listed.push({ name: 'rows', about: `one row per record, from ${rowsDir}` });
    } else if (rowsDir !== null) {
      await connection.run(
        `CREATE VIEW rows AS SELECT * FROM read_parquet(${sqlString(path.join(rowsDir, '**', '*.parquet'))}, union_by_name = true)`,
      );
      listed.push({ name: 'rows', about: `one row per record, from ${rowsDir}` });
    }
    return { job, connection, tables: listed, rowsDir, close };
  } catch (error) {
    close();
    throw error;
  }
}

/** Whether `rows` has the day column of ingest's day=<date> folders. */
async function hasDay(connection: DuckDBConnection): Promise<boolean> {
  const reader = await connection.runAndReadAll(
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'rows' AND column_name = 'day'",
  );
  return Number(reader.getRows()[0]?.[0] ?? 0) > 0;
}

export interface QueryResult {
  columns: { name: string; type: string }[];
  /** Values ready for JSON: numbers (integers too, when exact), strings, booleans, null, lists. */
  rows: unknown[][];
}

const INTEGER = /^(U?(TINY|SMALL|BIG|HUGE)?INT|INTEGER|UINTEGER)$/;

export async function runQuery(db: JobDatabase, sql: string): Promise<QueryResult> {
  let reader: Awaited<ReturnType<DuckDBConnection['runAndReadAll']>>;
  try {
    reader = await db.connection.runAndReadAll(sql);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/Table with name rows does not exist/i.test(message) && db.rowsDir === null)
      throw new UsageError(NO_ROWS);
    throw new UsageError(
      `${message.trim()}\n(the tables of job "${db.job}": ${db.tables.map((t) => t.name).join(', ')})`,
    );
  }
  const types = reader.columnTypes().map(String);
  const columns = reader.columnNames().map((name, i) => ({ name, type: types[i] ?? '' }));
  const rows = reader.getRowsJson().map((row) =>
    (row as unknown[]).map((v, i) => {
      if (typeof v === 'string' && INTEGER.test(columns[i]?.type ?? '')) {
        const n = Number(v);
        return Number.isSafeInteger(n) ? n : v;
      }
      return v;
    }),
  );
  return { columns, rows };
}

/** Writes every table of the job (and `rows`, when kept) into `dir`: Parquet (zstd) or CSV with a header. */
export async function exportTables(
  db: JobDatabase,
  dir: string,
  format: 'parquet' | 'csv',
): Promise<string[]> {
  const written: string[] = [];
  for (const table of db.tables) {
    const options = format === 'parquet' ? 'FORMAT parquet, COMPRESSION zstd' : 'FORMAT csv, HEADER true';
    if (table.name === 'rows' && (await hasDay(db.connection))) {
      // One row per record can be most of a job's size: a folder per day, as ingest kept them.
      const folder = path.join(dir, 'rows');
      await rm(folder, { recursive: true, force: true });
      await db.connection.run(
        `COPY (SELECT * FROM rows) TO ${sqlString(folder)} (${options}, PARTITION_BY (day), FILENAME_PATTERN 'rows_{i}')`,
      );
      written.push(folder);
      continue;
    }
    const file = path.join(dir, `${table.name}.${format}`);
    await db.connection.run(`COPY (SELECT * FROM ${ident(table.name)}) TO ${sqlString(file)} (${options})`);
    written.push(file);
  }
  return written;
}
