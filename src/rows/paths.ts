// Where a job's kept rows live and how their files are named: one folder per job, a folder per day
// in it, and file names that say which item's pass wrote them, so no two attempts share a file.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { isPostgresUrl } from '../store/location.js';

/**
 * Where `ingest --keep-rows` keeps a job's rows: `<store file>.rows/<job>/` beside a SQLite store.
 * A PostgreSQL store has no folder beside it: its rows are wherever --rows-dir says.
 */
export function defaultRowsDir(storeLocation: string, job: string): string | null {
  if (isPostgresUrl(storeLocation)) return null;
  return path.join(`${storeLocation}.rows`, encodeURIComponent(job));
}

/** The day folder of rows whose record has no usable time: Hive's name for NULL, which DuckDB reads as such. */
export const NO_DAY = '__HIVE_DEFAULT_PARTITION__';

/**
 * A pass's file for one day, relative to the job's rows folder:
 * `day=<YYYY-MM-DD>/<item hash>-<fence>-<start offset>-0.parquet`. The fence is new at every claim,
 * so an attempt that never committed (killed, lease lost) never wrote a file a later one writes.
 */
export function passFile(day: string | null, item: string, fence: number, offset: number): string {
  const hash = createHash('sha1').update(item).digest('hex').slice(0, 16);
  // The last number is DuckDB's {i} of a partitioned COPY: one file per day, so always 0.
  return `day=${day ?? NO_DAY}/${hash}-${fence}-${offset}-0.parquet`;
}
