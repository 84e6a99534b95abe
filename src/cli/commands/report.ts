// `sluice report`: the answers for a job, as text, JSON (the DESIGN.md contract), CSV or one HTML page.
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { renderReportHtml } from '../../report/html.js';
import { DEFAULT_STORE, openStore, STORE_HELP } from '../../store/index.js';
import type { JobStatus } from '../../store/types.js';
import { type TaskReport, taskEntry } from '../../tasks/index.js';
import { chooseJob } from './job.js';
import { formatOf } from './options.js';

export const REPORT_FORMATS = ['text', 'json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface LoadedReport {
  report: object;
  renderer: TaskReport;
  status: JobStatus;
  note?: string;
}

export function renderReport(loaded: LoadedReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(loaded.report, null, 2)}\n`;
  if (format === 'csv') return loaded.renderer.csv(loaded.report);
  if (format === 'html') {
    const sections = loaded.renderer.htmlSections?.(loaded.report);
    return renderReportHtml({
      report: loaded.report,
      status: loaded.status,
      ...(sections ? { sections } : {}),
    });
  }
  return loaded.renderer.text(loaded.report);
}

/** Builds a job's report with its task's report builder; the store is opened read-only. */
export async function loadReport(storePath: string, requestedJob?: string): Promise<LoadedReport> {
  const store = await openStore(storePath, { create: false, readOnly: true });
  try {
    const { job, note } = await chooseJob(store, requestedJob, storePath);
    const status = await store.status(job);
    const entry = taskEntry(status.task);
    if (!entry) {
      throw new UsageError(
        `job "${job}" was made by a task this sluice does not know ("${status.task}"): upgrade sluice`,
      );
    }
    const renderer = await entry.report();
    const report = await renderer.build({ job, status, aggregates: await store.aggregates(job), store });
    return note ? { report, renderer, status, note } : { report, renderer, status };
  } finally {
    await store.close();
  }
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .summary('success, rate-limited and failed calls per model, version and day, with latency')
    .option('--store <path|url>', STORE_HELP, DEFAULT_STORE)
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
  sluice report --format html --out june.html    # one self-contained page: works offline, can be mailed

Status classes: success = 2xx, rateLimited = 429, clientError = other 4xx, serverError = 5xx,
noStatus = no usable HTTP status; they add up to records. Days come from each record's own time (UTC).`,
    )
    .action(async (opts: { store: string; job?: string; format: ReportFormat; out?: string }) => {
      const loaded = await loadReport(opts.store, opts.job);
      if (loaded.note) process.stderr.write(`${loaded.note}\n`);
      const text = renderReport(loaded, opts.format);
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
