// `sluice query "<SQL>"`: DuckDB SQL over a job's tables (items, runs, by_model, by_day,
// status_codes..., and rows when kept), printed as a text table, JSON or CSV.
import type { Command } from 'commander';
import type { JobDatabase } from '../../query/database.js';
import { QUERY_FORMATS, type QueryFormat, renderResult } from '../../query/output.js';
import { DEFAULT_STORE, openStore, STORE_HELP } from '../../store/index.js';
import { chooseJob } from './job.js';
import { formatOf } from './options.js';

export const ROWS_HELP =
  'the folder of Parquet files `ingest --keep-rows` wrote (default: <store>.rows/<job>/ beside a SQLite store)';

/**
 * DuckDB's module, loaded when a command needs it: its native library takes over 100 ms to load,
 * and every other command (a worker's `ingest` above all) starts without it.
 */
export const database = () => import('../../query/database.js');

/** Opens the job's database, runs `use` on it, and closes everything whatever happens. */
export async function withJobDatabase<T>(
  opts: { store: string; job?: string; rows?: string },
  use: (db: JobDatabase) => Promise<T>,
): Promise<T> {
  const store = await openStore(opts.store, { create: false, readOnly: true });
  try {
    const { job, note } = await chooseJob(store, opts.job, store.location);
    if (note) process.stderr.write(`${note}\n`);
    const { openJobDatabase } = await database();
    const db = await openJobDatabase(store, job, opts.rows === undefined ? {} : { rowsDir: opts.rows });
    try {
      return await use(db);
    } finally {
      db.close();
    }
  } finally {
    await store.close();
  }
}

async function describeTables(db: JobDatabase): Promise<string> {
  const lines = [`tables of job "${db.job}":`];
  for (const t of db.tables) {
    const { runQuery } = await database();
    const { columns } = await runQuery(
      db,
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '${t.name}' ORDER BY ordinal_position`,
    ).then((r) => ({ columns: r.rows.map(([n, ty]) => `${n} ${String(ty).toLowerCase()}`) }));
    lines.push(`  ${t.name.padEnd(14)} ${t.about}`, `  ${' '.repeat(14)} (${columns.join(', ')})`);
  }
  if (db.rowsDir === null)
    lines.push('  (rows: this job kept no rows; re-run ingest with --keep-rows to query one row per record)');
  return `${lines.join('\n')}\n`;
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .summary("DuckDB SQL over a job's tables (items, by_model, by_day, status_codes, rows when kept...)")
    .argument('[sql]', 'the query; without one, the tables and their columns are listed')
    .option('--store <path>', STORE_HELP, DEFAULT_STORE)
    .option('--job <name>', 'job to query (default: the latest)')
    .option('--format <format>', QUERY_FORMATS.join(' | '), formatOf(QUERY_FORMATS), 'text')
    .option('--rows <dir>', ROWS_HELP)
    .addHelpText(
      'after',
      `
Tables: items, runs, events, workers (from the store); report (one row of the report's figures);
every list of the report (by_model, by_day, by_deployment, failures...) and every map of counts
(status_codes(code, records), status_classes(class, records)); rows, one per record, when the job
kept them. Times are UTC timestamps. Run \`sluice query\` alone to list them with their columns.

Examples:
  sluice query "SELECT model, version, records, rate_limited FROM by_model ORDER BY records DESC"
  sluice query "SELECT state, count(*) FROM items GROUP BY state" --format json
  sluice query "SELECT day, rate_limited * 100.0 / records AS pct_429 FROM by_day" --format csv
  sluice query "SELECT model, quantile_cont(duration_ms, 0.95) FROM rows GROUP BY model"`,
    )
    .action(
      async (
        sql: string | undefined,
        opts: { store: string; job?: string; format: QueryFormat; rows?: string },
      ) => {
        await withJobDatabase(opts, async (db) => {
          process.stdout.write(
            sql === undefined
              ? await describeTables(db)
              : renderResult(await (await database()).runQuery(db, sql), opts.format),
          );
        });
      },
    );
}
