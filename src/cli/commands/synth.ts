// `sluice synth <dir>`: a realistic Azure resource-log dataset, quirks included, with its truth.
import type { Command } from 'commander';
import { type SynthOptions, type SynthSummary, synthesize } from '../../synth/generate.js';
import { SHAPES, type Shape } from '../../synth/plan.js';
import { bytes, count } from '../format.js';
import { formatOf, intIn, positiveInt, size } from './options.js';

export interface SynthCliOptions {
  seed: number;
  size?: number;
  days?: number;
  start?: string;
  resources?: number;
  recordsPerHour?: number;
  shape?: Shape;
}

/** Generates with a progress line on a terminal; returns the summary. */
export async function runSynth(
  dir: string,
  opts: SynthCliOptions,
  stderr: NodeJS.WriteStream = process.stderr,
): Promise<SynthSummary> {
  const options: SynthOptions = { dir, seed: opts.seed };
  if (opts.size !== undefined) options.size = opts.size;
  if (opts.days !== undefined) options.days = opts.days;
  if (opts.start !== undefined) options.start = opts.start;
  if (opts.resources !== undefined) options.resources = opts.resources;
  if (opts.recordsPerHour !== undefined) options.recordsPerHour = opts.recordsPerHour;
  if (opts.shape !== undefined) options.shape = opts.shape;
  let last = 0;
  const summary = await synthesize(options, (p) => {
    const t = Date.now();
    if (!stderr.isTTY || t - last < 200) return;
    last = t;
    stderr.write(`\r\x1b[2Ksynth ${count(p.blobs)}/${count(p.totalBlobs)} blobs · ${bytes(p.bytes)}`);
  });
  if (stderr.isTTY) stderr.write('\r\x1b[2K');
  return summary;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .summary('write a synthetic Azure log dataset and its truth.json')
    .description(
      'Writes hourly PT1H.json blobs in the exact layout Azure Monitor uses in a storage account ' +
        '(insights-logs-<category>/resourceId=/SUBSCRIPTIONS/.../y=/m=/d=/h=/m=00/PT1H.json) for several ' +
        'Azure OpenAI accounts and an API Management gateway, with the quirks of real exports, and ' +
        '<dir>/truth.json: the expected `report --format json`, computed independently of the ingest code.',
    )
    .argument('<dir>', 'folder to write (created; must be empty)')
    .option('--seed <n>', 'random seed: the same options and seed give identical bytes', positiveInt, 1)
    .option('--size <bytes>', 'approximate total size, e.g. 50MB, 2GB (sets the records per hour)', size)
    .option('--days <n>', 'days of hourly blobs (default 60)', positiveInt)
    .option('--start <date>', 'first day, YYYY-MM-DD (default 2024-06-01; 2025-06-01 with --shape modern)')
    .option('--resources <n>', 'Azure OpenAI accounts (default 3)', positiveInt)
    .option(
      '--records-per-hour <n>',
      'mean records per account-hour when --size is not given (default 50, at most 1,000,000)',
      intIn(1, 1_000_000),
    )
    .option(
      '--shape <shape>',
      'classic: many small blobs, every quirk often; modern: 100 KB - 5 MB JSON-lines blobs of ' +
        'RequestResponse and GatewayLogs, few quirks, a few legacy {"records": [...]} blobs',
      formatOf(SHAPES),
      'classic',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  sluice synth ./data --size 50MB\n  sluice synth ./big --size 2GB --days 150 --seed 7\n  sluice synth ./modern --shape modern --size 650MB --days 20\n  sluice synth ./data && sluice ingest ./data && sluice report --format json > report.json',
    )
    .action(async (dir: string, opts: SynthCliOptions) => {
      const s = await runSynth(dir, opts);
      process.stdout.write(
        `wrote ${count(s.blobs)} blobs, ${count(s.records)} records, ${bytes(s.bytes)} to ${s.dir}\ntruth: ${s.truthPath}\n`,
      );
    });
}
