// `sluice analyze`: errors, templates, training metrics, API latency and a health score from
// plain-text and JSON logs (files, folders, .gz, stdin), as text, JSON, CSV or one HTML page.
import { writeFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { durationFromText } from '../../analyze/api.js';
import type { Analysis } from '../../analyze/combine.js';
import { DRAIN_DEFAULTS } from '../../analyze/drain.js';
import { LOG_FORMATS, type LogFormat } from '../../analyze/formats.js';
import { HEALTH_FORMULA } from '../../analyze/health.js';
import { type InputFile, listInputs, MAX_LINE_BYTES } from '../../analyze/input.js';
import { renderCsv } from '../../analyze/render-csv.js';
import { renderText } from '../../analyze/render-text.js';
import { loadRules, RULES, type Rule } from '../../analyze/rules.js';
import { AUTO_WORKERS, analyzeInputs, WORKERS_FROM_BYTES } from '../../analyze/run.js';
import { OVERFITTING_RULE } from '../../analyze/training.js';
import { UsageError } from '../../errors.js';
import { formatOf, positiveInt, size, wholeNumber } from './options.js';

export const ANALYZE_FORMATS = ['text', 'json', 'csv', 'html'] as const;
export type AnalyzeFormat = (typeof ANALYZE_FORMATS)[number];

export interface AnalyzeCliOptions {
  format: AnalyzeFormat;
  out?: string;
  structured?: string;
  plots?: string;
  logFormat: LogFormat | 'auto';
  include: string[];
  rules?: string;
  slow: number;
  top: number;
  similarity: number;
  depth: number;
  maxLine: number;
  color?: boolean;
  follow?: boolean;
  alert: string[];
  onAlert?: string;
  alertEvery: number;
  workers: number | 'auto';
  connectionString?: string;
  store?: string;
  job?: string;
}

function milliseconds(value: string): number {
  const ms = durationFromText(value);
  if (ms === null || ms <= 0) throw new InvalidArgumentError('expected a duration such as 500ms, 1s or 2.5s');
  return ms;
}

function share(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1)
    throw new InvalidArgumentError('expected a number above 0 and at most 1');
  return n;
}

function depthOf(value: string): number {
  const n = positiveInt(value);
  if (n < 3 || n > 10) throw new InvalidArgumentError('expected a depth from 3 to 10');
  return n;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .summary('errors, templates, training metrics, API latency and a health score from log files')
    .argument(
      '<paths...>',
      'files, folders (walked recursively) or - for standard input; .gz files are read as gzip',
    )
    .option('--format <format>', ANALYZE_FORMATS.join(' | '), formatOf(ANALYZE_FORMATS), 'text')
    .option('--out <file>', 'write the report to a file instead of standard output')
    .option(
      '--structured <file.csv>',
      'write one row per event: file,line,time,level,template_id,template,message',
    )
    .option('--plots <dir>', 'write loss and accuracy plots of each training run (SVG and PNG)')
    .option(
      '--log-format <name>',
      `force the log format: auto | ${LOG_FORMATS.join(' | ')}`,
      formatOf(['auto', ...LOG_FORMATS] as const),
      'auto',
    )
    .option(
      '--include <glob>',
      'in folders, only files matching this glob (repeatable), e.g. "*.log"',
      collect,
      [],
    )
    .option(
      '--rules <file>',
      'your own error rules (JSON, or lines of "category | severity | regex | advice"), tried before the built-in ones',
    )
    .addOption(
      new Option('--slow <duration>', 'requests at least this slow are slow requests')
        .argParser(milliseconds)
        .default(1000, '1s'),
    )
    .option('--top <n>', 'templates listed in the text report', positiveInt, 10)
    .option(
      '--similarity <share>',
      'Drain similarity threshold: share of a template a message must match (0-1]',
      share,
      DRAIN_DEFAULTS.similarity,
    )
    .option('--depth <n>', 'Drain parse tree depth (3-10)', depthOf, DRAIN_DEFAULTS.depth)
    .addOption(
      new Option('--max-line <size>', 'longest line analysed; longer lines are skipped and counted')
        .argParser(size)
        .default(MAX_LINE_BYTES, '1MiB'),
    )
    .option(
      '--workers <n>',
      `worker threads across files and the segments of a large file (8 MiB or more, read in parts that start an event): a number (0: none), or auto (up to ${AUTO_WORKERS} when the files hold ${WORKERS_FROM_BYTES / 1e6} MB or more)`,
      (v: string) => (v === 'auto' ? 'auto' : wholeNumber(v)),
      'auto',
    )
    .option(
      '--connection-string <cs>',
      'for azure:// paths: Azure Storage connection string (default: $AZURE_STORAGE_CONNECTION_STRING)',
    )
    .option(
      '--store <path|url>',
      'run as a resumable job in this store (a SQLite file, or postgres://...): each file analysed once, its result committed with it; the same command again analyses only new and changed files',
    )
    .option('--job <name>', 'with --store: the job name (default: analyze: and the paths given)')
    .option('--no-color', 'no colour in the text report (default: colour only on a terminal)')
    .option(
      '--follow',
      'keep reading the files as they grow (rotation and truncation handled), with a live summary',
    )
    .option(
      '--alert <rule>',
      'with --follow: alert when a rule holds, e.g. "ERROR>5/min" or "category=gpu" (repeatable)',
      collect,
      [],
    )
    .addOption(
      new Option('--alert-every <duration>', 'with --follow: least time between two alerts of one rule')
        .argParser(milliseconds)
        .default(60_000, '1min'),
    )
    .option(
      '--on-alert <command>',
      'with --follow: run this command on each alert (no shell; the alert text is in $SLUICE_ALERT)',
    )
    .addHelpText(
      'after',
      `
Examples:
  sluice analyze app.log
  sluice analyze ./logs --include '*.log' --include '*.log.gz' --format json | jq .errors
  sluice analyze train.log --plots ./plots --format csv > epochs.csv
  sluice analyze nginx/access.log --slow 500ms
  sluice analyze ./logs --structured events.csv --format html --out report.html
  kubectl logs my-pod | sluice analyze -
  sluice analyze azure://myaccount/app-logs/2025/06/ --include '*.log.gz'
  sluice analyze ./logs --store analyze.db    # resumable: again later, only new and changed files
  sluice report --store analyze.db --format html --out report.html

Formats are detected per file (--log-format forces one): log4j/Java, Python logging, OpenStack
(oslo), glog/TensorFlow, syslog, Apache/nginx access and error logs, JSON lines, logfmt, Keras,
Lightning, Hugging Face training output and Lightning's metrics.csv.
Levels: WARN -> WARNING; FATAL, SEVERE, CRIT, EMERG, ALERT -> CRITICAL; ERR -> ERROR; V D I W E F
-> TRACE DEBUG INFO WARNING ERROR CRITICAL; only the level in its place counts, never a word in
the message.
Overfitting: ${OVERFITTING_RULE}.
Health score:
${HEALTH_FORMULA.replace(/^/gm, '  ')}
Exit codes: 0 done, 1 (with --store) files that failed, 2 bad usage or input (a missing path, an
unknown format, a bad rules file), 130 interrupted (with --store: the same command resumes).`,
    )
    .action(async (paths: string[], opts: AnalyzeCliOptions) => {
      await runAnalyze(paths, opts);
    });
}

export async function runAnalyze(paths: string[], opts: AnalyzeCliOptions): Promise<void> {
  if (!opts.follow && (opts.alert.length > 0 || opts.onAlert)) {
    throw new UsageError('--alert and --on-alert need --follow');
  }
  const userRules = opts.rules ? await loadRules(opts.rules) : [];
  const inputs = await listInputs(paths, opts.include, {
    ...(opts.connectionString ? { connectionString: opts.connectionString } : {}),
  });
  try {
    await analyzeListed(paths, inputs.files, userRules, opts);
  } finally {
    await inputs.close();
  }
}

async function analyzeListed(
  paths: string[],
  files: InputFile[],
  userRules: Rule[],
  opts: AnalyzeCliOptions,
): Promise<void> {
  if (files.length === 0) {
    throw new UsageError(
      `no files to analyze in ${paths.join(', ')}${opts.include.length ? ` matching ${opts.include.join(', ')}` : ''}`,
    );
  }
  const options = {
    format: opts.logFormat,
    rules: [...userRules, ...RULES],
    slowMs: opts.slow,
    drain: { ...DRAIN_DEFAULTS, similarity: opts.similarity, depth: opts.depth },
    year: new Date().getUTCFullYear(),
    maxLineBytes: opts.maxLine,
    workers: opts.workers,
    ...(opts.structured ? { structured: opts.structured } : {}),
  };
  if (opts.store) {
    const { analyzeAsJob } = await import('./analyze-job.js');
    const analysis = await analyzeAsJob(paths, files, options, opts);
    if (!analysis) return;
    await writeOutputs(analysis, opts);
    return;
  }
  if (opts.job) throw new UsageError('--job names a job in a store: give --store too');
  if (opts.follow) {
    if (files.some((f) => f.blob))
      throw new UsageError('--follow follows local files and standard input, not blobs');
    if (opts.structured || opts.plots) {
      throw new UsageError(
        '--structured and --plots are written by a run that ends: leave them out with --follow',
      );
    }
    const { followFiles } = await import('../../analyze/follow.js');
    const analysis = await followFiles(files, options, {
      format: opts.format,
      alert: opts.alert,
      alertEvery: opts.alertEvery,
      ...(opts.onAlert ? { onAlert: opts.onAlert } : {}),
    });
    await writeReport(analysis, opts);
    return;
  }
  const { analysis } = await analyzeInputs(files, options);
  await writeOutputs(analysis, opts);
}

async function writeOutputs(analysis: Analysis, opts: AnalyzeCliOptions): Promise<void> {
  if (opts.plots) {
    const { writePlots } = await import('../../analyze/plots.js');
    const written = await writePlots(analysis, opts.plots);
    process.stderr.write(`plots written: ${written.join(', ') || 'none (no training runs found)'}\n`);
  }
  await writeReport(analysis, opts);
}

async function writeReport(analysis: Analysis, opts: AnalyzeCliOptions): Promise<void> {
  const text = await renderAnalysis(analysis, opts);
  if (opts.out) {
    await writeFile(opts.out, text).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot write the report to ${opts.out}: ${error.code ?? error.message}`);
    });
    process.stderr.write(`report written to ${opts.out}\n`);
  } else {
    process.stdout.write(text);
  }
}

export async function renderAnalysis(
  analysis: Analysis,
  opts: Pick<AnalyzeCliOptions, 'format' | 'top' | 'color' | 'out'>,
): Promise<string> {
  if (opts.format === 'json') return `${JSON.stringify(analysis, null, 2)}\n`;
  if (opts.format === 'csv') return renderCsv(analysis);
  if (opts.format === 'html') {
    const { renderHtml } = await import('../../analyze/render-html.js');
    return renderHtml(analysis);
  }
  const color = opts.color !== false && !opts.out && process.stdout.isTTY === true && !process.env.NO_COLOR;
  return renderText(analysis, { color, top: opts.top });
}
