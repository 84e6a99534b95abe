// A job as a DuckDB database in memory: its tables streamed in from the store through the
// appender (DuckDB's sqlite/postgres scanners are extensions that cannot be downloaded here, and
// the store's JSON is not the job's shape anyway), and `rows` as a view over its kept Parquet files.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBTimestampValue,
} from '@duckdb/node-api';
import { UsageError } from '../errors.js';
import { isPostgresUrl } from '../store/index.js';
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

/**
 * Where `ingest --keep-rows` keeps a job's rows: `<store file>.rows/<job>/` beside a SQLite store.
 * A PostgreSQL store has no folder beside it: its rows are wherever --rows says.
 */
export function defaultRowsDir(storeLocation: string, job: string): string | null {
  if (isPostgresUrl(storeLocation)) return null;
  return path.join(`${storeLocation}.rows`, encodeURIComponent(job));
}

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
      appender.appendTimestamp(new DuckDBTimestampValue(BigInt(Math.round(Number(value))) * 1000n));
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
  const dir = options.rowsDir ?? defaultRowsDir(store.location, job);
  const rowsDir = dir !== null && (await hasParquet(dir)) ? dir : null;
  if (options.rowsDir !== undefined && rowsDir === null) {
    throw new UsageError(
      `no Parquet files under ${options.rowsDir} (--rows): give the folder ingest --keep-rows wrote`,
    );
  }
  return databaseOf(job, tables, rowsDir);
}

/** A DuckDB database in memory holding `tables`, and `rows` over the Parquet files under `rowsDir`. */
export async function databaseOf(
  job: string,
  tables: TableSource[],
  rowsDir: string | null,
): Promise<JobDatabase> {
  // Nothing is fetched: extensions neither install nor load on their own (parquet and json are built in).
  const instance = await DuckDBInstance.create(':memory:', {
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
    if (rowsDir !== null) {
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
    const file = path.join(dir, `${table.name}.${format}`);
    const options = format === 'parquet' ? 'FORMAT parquet, COMPRESSION zstd' : 'FORMAT csv, HEADER true';
    await db.connection.run(`COPY (SELECT * FROM ${ident(table.name)}) TO ${sqlString(file)} (${options})`);
    written.push(file);
  }
  return written;
}
