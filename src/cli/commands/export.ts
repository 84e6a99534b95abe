// `sluice export`: every table of a job (the ones `query` offers) written as Parquet (zstd) or
// CSV files into a folder, for pandas, Spark, a BI tool or a spreadsheet.
import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { DEFAULT_STORE, STORE_HELP } from '../../store/index.js';
import { formatOf } from './options.js';
import { database, ROWS_HELP, withJobDatabase } from './query.js';

const EXPORT_FORMATS = ['parquet', 'csv'] as const;

export function registerExport(program: Command): void {
  program
    .command('export')
    .summary("write a job's tables as Parquet or CSV files")
    .requiredOption('--out <dir>', 'folder to write <table>.parquet or <table>.csv into (created if missing)')
    .option('--format <format>', EXPORT_FORMATS.join(' | '), formatOf(EXPORT_FORMATS), 'parquet')
    .option('--store <path>', STORE_HELP, DEFAULT_STORE)
    .option('--job <name>', 'job to export (default: the latest)')
    .option('--rows <dir>', ROWS_HELP)
    .addHelpText(
      'after',
      `
Writes one file per table (see \`sluice query\` for the list): items, runs, events, workers, report,
by_model, by_day, status_codes..., and rows when the job kept them. Existing files are replaced.

Examples:
  sluice export --out ./june-tables
  sluice export --job june --format csv --out ./june-csv
  duckdb -c "SELECT * FROM './june-tables/by_model.parquet'"`,
    )
    .action(
      async (opts: {
        out: string;
        format: (typeof EXPORT_FORMATS)[number];
        store: string;
        job?: string;
        rows?: string;
      }) => {
        await mkdir(opts.out, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot create ${opts.out}: ${error.code ?? error.message}`);
        });
        await withJobDatabase(opts, async (db) => {
          const files = await (await database()).exportTables(db, opts.out, opts.format);
          process.stderr.write(
            `${files.length} tables of job "${db.job}" written to ${opts.out}: ${db.tables.map((t) => t.name).join(', ')}\n`,
          );
        });
      },
    );
}
