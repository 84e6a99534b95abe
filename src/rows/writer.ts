// Writes kept rows as Parquet (zstd), one file per day per pass, through one DuckDB in memory: the
// columns arrive as numbers and dictionary codes (rows/batch.ts) and go in through the appender a
// data chunk at a time. Each pass's staging table declares its text columns as ENUMs of the pass's
// own values, so the codes go in as they are, and DuckDB writes an ENUM to Parquet as a plain text
// column whose dictionary it already has: a third of the CPU of writing the same text as VARCHAR.
import { mkdir } from 'node:fs/promises';
import { availableParallelism, endianness } from 'node:os';
import path from 'node:path';
import type {
  DuckDBDataChunk as DataChunk,
  DuckDBAppender,
  DuckDBConnection,
  DuckDBInstance as Instance,
} from '@duckdb/node-api';
import { duckdb, duckdbBindings as raw } from '../duckdb.js';
import { STATUS_CLASSES } from '../tasks/azure-logs/record.js';
import { Codes, NAMED, type RowBatchData } from './batch.js';
import { COMPACT_AT, compactRows, countPassFiles } from './compact.js';
import { passFile } from './paths.js';

const { DuckDBDataChunk, DuckDBInstance } = duckdb;

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

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;
/** An ENUM of a pass's values; a column with no value at all (every row NULL) is text. */
const enumOf = (values: readonly string[]) =>
  values.length === 0 ? 'VARCHAR' : `ENUM(${values.map(sqlString).join(', ')})`;

/** The staging table of a pass: its columns in this order (PassChunk fills them by position). */
function createStaging(dictionaries: { blob: Codes; day: Codes; named: Codes[] }): string {
  const columns = [
    `blob ${enumOf(dictionaries.blob.values)}`,
    'line DOUBLE',
    'time_us DOUBLE',
    `day ${enumOf(dictionaries.day.values)}`,
    'status SMALLINT',
    `status_class ${enumOf(STATUS_CLASSES)}`,
    'duration_ms DOUBLE',
    ...NAMED.map((n, k) => `${n} ${enumOf((dictionaries.named[k] as Codes).values)}`),
  ];
  return `CREATE TEMP TABLE staging (${columns.join(', ')})`;
}

/** Whose pass it is: its first item, that item's fence and the offset it started from (names its files). */
export interface PassId {
  item: string;
  fence: number;
  offset: number;
}

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
    for (let i = 0; i < writers; i += 1) connections.push(await instance.connect());
    return new RowsWriter(dir, instance, connections);
  }

  /**
   * Writes a pass's rows (of one item, or of a group's items) as one new file per day, named after
   * `pass` (the first item's id, fence and start offset); returns each item's files, relative to the
   * folder. Nothing here is read until an item's checkpoint names its files, which commits with it.
   */
  write(pass: PassId, parts: PassRows[]): Promise<Map<string, string[]>> {
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
    pass: PassId,
    parts: PassRows[],
  ): Promise<Map<string, string[]>> {
    // The batches' codes are local to each: one dictionary of blobs, of days and of each named
    // column for the pass, the values of its staging table's ENUMs.
    const dictionaries = { blob: new Codes(), day: new Codes(), named: NAMED.map(() => new Codes()) };
    /** Each item's days (codes), to name its files. */
    const itemDays = new Map<string, Set<number>>();
    let total = 0;
    const maps = parts.map(({ batch, lineBase = 0 }) => {
      const dayMap = Int32Array.from(batch.days, (d) => dictionaries.day.of(d));
      const blobOf = new Int32Array(batch.count);
      /** Which of the batch's days (and none, at the end) the item at hand has: a Set per row cost more. */
      const has = new Uint8Array(batch.days.length + 1);
      for (const item of batch.items) {
        blobOf.fill(dictionaries.blob.of(item.id), item.from, item.to);
        const seen = itemDays.get(item.id) ?? new Set<number>();
        itemDays.set(item.id, seen);
        has.fill(0);
        for (let i = item.from; i < item.to; i += 1) {
          const d = batch.day[i] as number;
          has[d < 0 ? batch.days.length : d] = 1;
        }
        for (let d = 0; d < has.length; d += 1)
          if (has[d] === 1) seen.add(d === batch.days.length ? -1 : (dayMap[d] as number));
      }
      const nameMaps = NAMED.map((c, k) =>
        passCodes(batch.named[c], batch.dictionary, dictionaries.named[k] as Codes),
      );
      total += batch.count;
      return { lineBase, blobOf, dayMap, nameMaps };
    });
    const files = new Map<string, string[]>();
    if (total === 0) return files;
    await connection.run(createStaging(dictionaries));
    try {
      const appender = await connection.createAppender('staging');
      try {
        // One chunk, refilled: its ENUM types (a pass's hundred blob names) are built once.
        const types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i));
        const chunk = new PassChunk(appender, DuckDBDataChunk.create(types));
        for (const [p, { batch }] of parts.entries()) {
          for (let at = 0; at < batch.count; at += CHUNK_ROWS) {
            chunk.append(batch, at, Math.min(CHUNK_ROWS, batch.count - at), maps[p] as ChunkMaps);
          }
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      // One COPY for every day of the pass: DuckDB writes day=<date>/<pattern>.parquet for each (a
      // record without a time goes to Hive's NULL folder), {i} being 0 for the only file of a day.
      const pattern = passFile(null, pass.item, pass.fence, pass.offset).split('/')[1] as string;
      const copied = await connection.runAndReadAll(
        `COPY (SELECT blob, line::BIGINT AS line,
                make_timestamp(CASE WHEN isnan(time_us) THEN NULL ELSE time_us::BIGINT END) AS time,
                ${NAMED.slice(0, 4).join(', ')},
                nullif(status, 0)::INTEGER AS status,
                status_class,
                CASE WHEN isnan(duration_ms) THEN NULL ELSE duration_ms END AS duration_ms,
                ${NAMED.slice(4).join(', ')},
                day
              FROM staging)
         TO ${sqlString(this.dir)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day),
           FILENAME_PATTERN ${sqlString(pattern.replace(/-0\.parquet$/, '-{i}'))}, OVERWRITE_OR_IGNORE,
           RETURN_FILES true)`,
      );
      // The files DuckDB says it wrote: asking it is one answer, where asking the disk was a call per file.
      const written = new Set(
        (copied.getRowObjectsJson()[0]?.Files as string[] | undefined)?.map((f) => path.resolve(f)) ?? [],
      );
      const fileOfDay = new Map<number, string>();
      for (const set of itemDays.values()) {
        for (const d of set) {
          if (fileOfDay.has(d)) continue;
          const file = passFile(
            d < 0 ? null : (dictionaries.day.values[d] as string),
            pass.item,
            pass.fence,
            pass.offset,
          );
          // Named in a checkpoint only once it is written: a file named is a file read.
          if (!written.has(path.resolve(this.dir, file)))
            throw new Error(`rows: DuckDB did not write ${path.join(this.dir, file)} as expected`);
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
      // Dropped, not emptied: DuckDB keeps deleted rows' storage with their table, and the next
      // pass's ENUMs are its own.
      await connection.run('DROP TABLE staging');
    }
  }

  /**
   * Merges small committed files a file per day (rows/compact.ts); how many were merged. The
   * committed files (every item's checkpoint read) are asked for only when the folder holds enough
   * pass files for a merge to be due: a job's end then costs a folder listing, not a store scan.
   */
  async compact(committed: () => Promise<string[]>, at = COMPACT_AT): Promise<number> {
    if ((await countPassFiles(this.dir)) < at) return 0;
    return this.compactFiles(await committed(), at);
  }

  /** Merges these committed files (compact's work, once the folder holds enough of them). */
  compactFiles(committed: string[], at = COMPACT_AT): Promise<number> {
    return this.withConnection((connection) => compactRows(connection, this.dir, committed, at));
  }

  close(): void {
    for (const connection of this.connections) connection.closeSync();
    this.instance.closeSync();
  }
}

/** How a batch's codes become the pass's: its rows' blobs, its days' and its names' codes. */
interface ChunkMaps {
  lineBase: number;
  blobOf: Int32Array;
  dayMap: Int32Array;
  nameMaps: Int32Array[];
}

/**
 * The pass's codes (in `into`) of the batch dictionary's values that `codes` uses: -1 for a value
 * not used (and for none), so a pass's ENUM holds only values its rows have.
 */
function passCodes(codes: Int32Array, dictionary: readonly string[], into: Codes): Int32Array {
  const map = new Int32Array(dictionary.length).fill(-1);
  for (let j = 0; j < codes.length; j += 1) {
    const c = codes[j] as number;
    if (c >= 0 && (map[c] as number) < 0) map[c] = into.of(dictionary[c] as string);
  }
  return map;
}

/** A NULL mask's bytes as DuckDB reads them: 64-bit words of a bit per row (1: valid), low bit first. */
const LITTLE_ENDIAN = endianness() === 'LE';

type EnumCodes = Uint8Array | Uint16Array | Uint32Array;

/**
 * A pass's data chunk, filled through DuckDB's C API straight from the batches' typed arrays: a
 * number column is one copy of a slice of the batch's array, an ENUM's codes are remapped into one
 * array of the ENUM's own width and copied, and a NULL mask is written only for a column that has a
 * NULL. The node API's vectors would copy every column out and back in, and build each ENUM's
 * dictionary again for every chunk (a Map of a pass's hundred blob names, 2,048 rows at a time).
 */
class PassChunk {
  /** Per column: an ENUM's codes, of its width; null for a number column, or text (always NULL). */
  private readonly codes: (EnumCodes | null)[];
  private readonly scratch = new Float64Array(CHUNK_ROWS);
  private readonly mask = new Uint8Array(CHUNK_ROWS / 8);

  constructor(
    private readonly appender: DuckDBAppender,
    private readonly chunk: DataChunk,
  ) {
    this.codes = Array.from({ length: chunk.columnCount }, (_, i) => {
      const type = raw.vector_get_column_type(raw.data_chunk_get_vector(chunk.chunk, i));
      if (raw.get_type_id(type) !== raw.Type.ENUM) return null;
      const width = raw.enum_internal_type(type);
      return width === raw.Type.UTINYINT
        ? new Uint8Array(CHUNK_ROWS)
        : width === raw.Type.USMALLINT
          ? new Uint16Array(CHUNK_ROWS)
          : new Uint32Array(CHUNK_ROWS);
    });
  }

  /** Rows `[at, at + n)` of `batch`, into the appender. */
  append(batch: RowBatchData, at: number, n: number, maps: ChunkMaps): void {
    const chunk = this.chunk.chunk;
    raw.data_chunk_reset(chunk);
    raw.data_chunk_set_size(chunk, n);
    const end = at + n;
    this.enumColumn(0, maps.blobOf.subarray(at, end), null);
    const lines = batch.line.subarray(at, end);
    if (maps.lineBase === 0) this.numbers(1, lines);
    else {
      const line = this.scratch.subarray(0, n);
      for (let j = 0; j < n; j += 1) line[j] = (lines[j] as number) + maps.lineBase;
      this.numbers(1, line);
    }
    this.numbers(2, batch.time.subarray(at, end));
    this.enumColumn(3, batch.day.subarray(at, end), maps.dayMap);
    this.numbers(4, batch.status.subarray(at, end));
    // The status classes are the ENUM's own indexes, one byte each: no remap, no NULL.
    this.numbers(5, batch.statusClass.subarray(at, end));
    this.numbers(6, batch.durationMs.subarray(at, end));
    for (const [k, c] of NAMED.entries())
      this.enumColumn(7 + k, batch.named[c].subarray(at, end), maps.nameMaps[k] as Int32Array);
    this.appender.appendDataChunk(this.chunk);
  }

  private vector(column: number) {
    return raw.data_chunk_get_vector(this.chunk.chunk, column);
  }

  private numbers(column: number, values: Float64Array | Int16Array | Uint8Array): void {
    raw.copy_data_to_vector(
      this.vector(column),
      0,
      values.buffer as ArrayBuffer,
      values.byteOffset,
      values.byteLength,
    );
  }

  /**
   * Codes (through `map`, when given) into an ENUM column; -1, none, is NULL. A column of text (a
   * value no row has: every row NULL) takes only its mask.
   */
  private enumColumn(column: number, codes: Int32Array, map: Int32Array | null): void {
    const n = codes.length;
    const into = this.codes[column];
    const mask = this.mask;
    let nulls = false;
    for (let j = 0; j < n; j += 1) {
      const c = codes[j] as number;
      const code = c < 0 || map === null ? c : (map[c] as number);
      if (code >= 0 && into) into[j] = code;
      else {
        if (!nulls) {
          mask.fill(0xff);
          nulls = true;
        }
        mask[j >>> 3] = (mask[j >>> 3] as number) & ~(1 << (j & 7));
      }
    }
    const vector = this.vector(column);
    if (into) raw.copy_data_to_vector(vector, 0, into.buffer as ArrayBuffer, 0, n * into.BYTES_PER_ELEMENT);
    if (!nulls) return;
    const bytes = Math.ceil(n / 64) * 8;
    if (!LITTLE_ENDIAN) for (let w = 0; w < bytes; w += 8) mask.subarray(w, w + 8).reverse();
    raw.vector_ensure_validity_writable(vector);
    raw.copy_data_to_vector_validity(vector, 0, mask.buffer as ArrayBuffer, 0, bytes);
  }
}
