// `sluice report`: the answers for a job, as text, JSON (the DESIGN.md contract) or CSV.
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { buildReport, type Report } from '../../report/build.js';
import { renderCsv } from '../../report/csv.js';
import { renderText } from '../../report/text.js';
import { DEFAULT_STORE, openStore } from '../../store/index.js';
import { chooseJob } from './job.js';
import { formatOf } from './options.js';

export const REPORT_FORMATS = ['text', 'json', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(report: Report, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'csv') return renderCsv(report);
  return renderText(report);
}

export async function loadReport(
  storePath: string,
  requestedJob?: string,
): Promise<{ report: Report; note?: string }> {
  const store = openStore(storePath, { create: false });
  try {
    const { job, note } = await chooseJob(store, requestedJob, storePath);
    const report = buildReport(job, await store.status(job), await store.aggregates(job));
    return note ? { report, note } : { report };
  } finally {
    await store.close();
  }
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .summary('success, rate-limited and failed calls per model, version and day, with latency')
    .option('--store <path>', 'SQLite file holding state and results', DEFAULT_STORE)
    .option('--job <name>', 'job to report (default: the latest)')
    .option('--format <format>', `${REPORT_FORMATS.join(' | ')}`, formatOf(REPORT_FORMATS), 'text')
    .option('--out <file>', 'write the report to a file instead of standard output')
    .addHelpText(
      'after',
      `
Examples:
  sluice report
  sluice report --format json | jq '.byModel[] | {model, version, rateLimited}'
  sluice report --job june --format csv --out june.csv

Status classes: success = 2xx, rateLimited = 429, clientError = other 4xx, serverError = 5xx,
noStatus = no usable HTTP status; they add up to records. Days come from each record's own time (UTC).`,
    )
    .action(async (opts: { store: string; job?: string; format: ReportFormat; out?: string }) => {
      const { report, note } = await loadReport(opts.store, opts.job);
      if (note) process.stderr.write(`${note}\n`);
      const text = renderReport(report, opts.format);
      if (opts.out) {
        await writeFile(opts.out, text).catch((error: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot write the report to ${opts.out}: ${error.code ?? error.message}`);
        });
        process.stderr.write(`report written to ${opts.out}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
