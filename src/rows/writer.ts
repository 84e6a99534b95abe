// Writes kept rows as Parquet (zstd), one file per day per pass, through one DuckDB in memory: the
// columns arrive as numbers and dictionary codes (rows/batch.ts) and go in through the appender a
// data chunk at a time; the names are looked up in SQL when the file is written.
import { access, mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance as Instance } from '@duckdb/node-api';
import { duckdb } from '../duckdb.js';
import { STATUS_CLASSES } from '../tasks/azure-logs/record.js';
import { Codes, NAMED, type RowBatchData } from './batch.js';
import { compactRows } from './compact.js';
import { passFile } from './paths.js';

const { DOUBLE, DuckDBDataChunk, DuckDBInstance, INTEGER, SMALLINT, UTINYINT } = duckdb;

/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/** The `rows` columns, in order, as each file holds them (see DESIGN.md's `query` contract). */
export const ROW_COLUMNS = [
  'blob',
  'line',
  'time',
  'model',
  'model_version',
  'deployment',
  'operation',
  'status',
  'status_class',
  'duration_ms',
  'category',
  'resource',
] as const;

const STAGING_COLUMNS = [
  ['blob', INTEGER],
  ['line', DOUBLE],
  ['time_us', DOUBLE],
  ['day', INTEGER],
  ['status', SMALLINT],
  ['status_class', UTINYINT],
  ['duration_ms', DOUBLE],
  ...NAMED.map((n) => [n, INTEGER] as const),
] as const;

const CREATE_STAGING = `CREATE TEMP TABLE staging (${STAGING_COLUMNS.map(([name, type]) => `"${name}" ${type.toString()}`).join(', ')})`;

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;
const sqlList = (texts: readonly string[]) => `([${texts.map(sqlString).join(', ')}]::VARCHAR[])`;

/** One pass's rows to write: the batch, the number to add to its lines, and whose pass it is. */
export interface PassRows {
  batch: RowBatchData;
  /** Added to every line of the batch (a chunk's lines count from its own start). */
  lineBase?: number;
}

export class RowsWriter {
  /** Connections not writing now, each with a staging table of its own. */
  private readonly idle: DuckDBConnection[];
  /** Writes waiting for a connection. */
  private readonly waiting: ((connection: DuckDBConnection) => void)[] = [];

  private constructor(
    /** The job's rows folder. */
    readonly dir: string,
    private readonly instance: Instance,
    private readonly connections: DuckDBConnection[],
  ) {
    this.idle = [...connections];
  }

  /**
   * `writers`: passes written at once. Each write is small (a group of files, an hourly blob) and
   * mostly waits on DuckDB's fixed costs, so a few side by side keep items from queueing for it.
   */
  static async open(dir: string, writers = Math.max(2, availableParallelism())): Promise<RowsWriter> {
    await mkdir(dir, { recursive: true });
    // Nothing is fetched: parquet is built in. One thread per write: a pass's rows are too few for
    // DuckDB to gain from splitting them, and the parser threads need the cores (~20 % less CPU).
    const instance = await DuckDBInstance.create(':memory:', {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      threads: '1',
    });
    const connections: DuckDBConnection[] = [];
    for (let i = 0; i < writers; i += 1) {
      const connection = await instance.connect();
      await connection.run(CREATE_STAGING);
      connections.push(connection);
    }
    return new RowsWriter(dir, instance, connections);
  }

  /**
   * Writes a pass's rows (of one item, or of a group's items) as one new file per day, named after
   * `pass` (the first item's id, fence and start offset); returns each item's files, relative to the
   * folder. Nothing here is read until an item's checkpoint names its files, which commits with it.
   */
  write(
    pass: { item: string; fence: number; offset: number },
    parts: PassRows[],
  ): Promise<Map<string, string[]>> {
    return this.withConnection((connection) => this.writeNow(connection, pass, parts));
  }

  private async withConnection<T>(use: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection =
      this.idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve)));
    try {
      return await use(connection);
    } finally {
      const next = this.waiting.shift();
      if (next) next(connection);
      else this.idle.push(connection);
    }
  }

  private async writeNow(
    connection: DuckDBConnection,
    pass: { item: string; fence: number; offset: number },
    parts: PassRows[],
  ): Promise<Map<string, string[]>> {
    // The batches' codes are local to each: one dictionary of names, days and blobs for the pass.
    const names = new Codes();
    const days = new Codes();
    const blobs = new Codes();
    /** Each item's days (codes), to name its files. */
    const itemDays = new Map<string, Set<number>>();
    let total = 0;
    const appender = await connection.createAppender('staging');
    try {
      for (const { batch, lineBase = 0 } of parts) {
        const nameMap = batch.dictionary.map((n) => names.of(n));
        const dayMap = batch.days.map((d) => days.of(d));
        const blobOf = new Int32Array(batch.count);
        for (const item of batch.items) {
          const code = blobs.of(item.id);
          blobOf.fill(code, item.from, item.to);
          const seen = itemDays.get(item.id) ?? new Set<number>();
          itemDays.set(item.id, seen);
          for (let i = item.from; i < item.to; i += 1) {
            const d = batch.day[i] as number;
            seen.add(d < 0 ? -1 : (dayMap[d] as number));
          }
        }
        for (let at = 0; at < batch.count; at += CHUNK_ROWS) {
          const n = Math.min(CHUNK_ROWS, batch.count - at);
          appendChunk(appender, batch, at, n, { lineBase, blobOf, nameMap, dayMap });
        }
        total += batch.count;
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const files = new Map<string, string[]>();
    if (total === 0) return files;
    try {
      const named = (c: string) => `${sqlList(names.values)}[nullif(${c}, -1) + 1] AS ${c}`;
      // One COPY for every day of the pass: DuckDB writes day=<date>/<pattern>.parquet for each (a
      // record without a time goes to Hive's NULL folder), {i} being 0 for the only file of a day.
      const pattern = passFile(null, pass.item, pass.fence, pass.offset).split('/')[1] as string;
      await connection.run(
        `COPY (SELECT ${sqlList(blobs.values)}[blob + 1] AS blob, line::BIGINT AS line,
                make_timestamp(CASE WHEN isnan(time_us) THEN NULL ELSE time_us::BIGINT END) AS time,
                ${NAMED.slice(0, 4).map(named).join(', ')},
                nullif(status, 0)::INTEGER AS status,
                ${sqlList(STATUS_CLASSES)}[status_class + 1] AS status_class,
                CASE WHEN isnan(duration_ms) THEN NULL ELSE duration_ms END AS duration_ms,
                ${NAMED.slice(4).map(named).join(', ')},
                ${sqlList(days.values)}[nullif(day, -1) + 1] AS day
              FROM staging)
         TO ${sqlString(this.dir)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day),
           FILENAME_PATTERN ${sqlString(pattern.replace(/-0\.parquet$/, '-{i}'))}, OVERWRITE_OR_IGNORE)`,
      );
      const fileOfDay = new Map<number, string>();
      for (const set of itemDays.values()) {
        for (const d of set) {
          if (fileOfDay.has(d)) continue;
          const file = passFile(
            d < 0 ? null : (days.values[d] as string),
            pass.item,
            pass.fence,
            pass.offset,
          );
          // Named in a checkpoint only once it is there: a file named is a file read.
          await access(path.join(this.dir, file)).catch(() => {
            throw new Error(`rows: DuckDB did not write ${path.join(this.dir, file)} as expected`);
          });
          fileOfDay.set(d, file);
        }
      }
      for (const [item, set] of itemDays)
        files.set(
          item,
          [...set].sort().map((d) => fileOfDay.get(d) as string),
        );
      return files;
    } finally {
      // A new table, not the old one emptied: DuckDB keeps deleted rows' storage with their table,
      // so a staging table only emptied holds on to more memory pass after pass.
      await connection.run(`DROP TABLE staging; ${CREATE_STAGING}`);
    }
  }

  /** Merges small committed files a file per day (rows/compact.ts); how many were merged. */
  compact(committed: string[], at?: number): Promise<number> {
    return this.withConnection((connection) => compactRows(connection, this.dir, committed, at));
  }

  close(): void {
    for (const connection of this.connections) connection.closeSync();
    this.instance.closeSync();
  }
}

/** A vector's values as DuckDB's node API holds them before `flush` copies them in. */
type Items = { items: Float64Array | Int32Array | Int16Array | Uint8Array; flush(): void };

/**
 * Rows `[at, at + n)` of `batch` as one data chunk, into the appender. Values are copied straight
 * into the vectors' typed arrays (a setItem per value costs more than the parse of the record); what
 * is missing stays a sentinel (NaN, 0, -1) that the COPY of writeNow turns into NULL.
 */
function appendChunk(
  appender: DuckDBAppender,
  batch: RowBatchData,
  at: number,
  n: number,
  maps: { lineBase: number; blobOf: Int32Array; nameMap: number[]; dayMap: number[] },
): void {
  const chunk = DuckDBDataChunk.create(
    STAGING_COLUMNS.map(([, type]) => type),
    n,
  );
  const vectors = STAGING_COLUMNS.map((_, i) => chunk.getColumnVector(i) as unknown as Items);
  const column = (i: number) => (vectors[i] as Items).items;
  const end = at + n;
  column(0).set(maps.blobOf.subarray(at, end));
  const line = column(1);
  const lines = batch.line.subarray(at, end);
  if (maps.lineBase === 0) line.set(lines);
  else for (let j = 0; j < n; j += 1) line[j] = (lines[j] as number) + maps.lineBase;
  column(2).set(batch.time.subarray(at, end));
  remap(column(3), batch.day.subarray(at, end), maps.dayMap);
  column(4).set(batch.status.subarray(at, end));
  column(5).set(batch.statusClass.subarray(at, end));
  column(6).set(batch.durationMs.subarray(at, end));
  for (const [k, c] of NAMED.entries()) remap(column(7 + k), batch.named[c].subarray(at, end), maps.nameMap);
  for (const v of vectors) v.flush();
  appender.appendDataChunk(chunk);
}

/** Codes of a batch's dictionary to the pass's (-1, none, stays -1). */
function remap(
  into: Float64Array | Int32Array | Int16Array | Uint8Array,
  codes: Int32Array,
  map: number[],
): void {
  for (let j = 0; j < codes.length; j += 1) {
    const c = codes[j] as number;
    into[j] = c < 0 ? -1 : (map[c] as number);
  }
}
