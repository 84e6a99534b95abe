// `sluice health`: a job (and/or an analyze result) against thresholds, as a monitoring plugin:
// one line on stdout, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad usage and unreadable stores included).
import { readFile } from 'node:fs/promises';
import type { Command, CommanderError } from 'commander';
import { type AnalyzeHealth, measureJob, readAnalyzeHealth } from '../../health/measure.js';
import {
  DEFAULT_RULES,
  effectiveRules,
  evaluate,
  METRICS,
  type Measures,
  parseRule,
  type Rule,
  VERDICT_CODE,
} from '../../health/rules.js';
import { summaryLine } from '../../health/summary.js';
import { readJob } from '../../query/job.js';
import { DEFAULT_STORE, openStore, STORE_HELP } from '../../store/index.js';
import { chooseJob } from './job.js';

interface HealthOptions {
  store: string;
  job?: string;
  warn: string[];
  crit: string[];
  defaults: boolean;
  analyze?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function unknown(message: string, json: boolean | undefined): void {
  const line = `SLUICE UNKNOWN - ${message.replace(/\s*\n\s*/g, ' ')}`;
  process.stdout.write(
    json
      ? `${JSON.stringify({ status: 'UNKNOWN', code: 3, summary: line, error: message }, null, 2)}\n`
      : `${line}\n`,
  );
  process.exitCode = VERDICT_CODE.UNKNOWN;
}

async function check(opts: HealthOptions, storeGiven: boolean): Promise<void> {
  const rules: Rule[] = [
    ...opts.warn.map((r) => parseRule(r, 'warn')),
    ...opts.crit.map((r) => parseRule(r, 'crit')),
  ];
  let measures: Measures = {};
  let job: string | null = null;
  let analyze: AnalyzeHealth | undefined;
  if (opts.analyze) {
    const where = opts.analyze;
    const text = await readFile(where, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot read ${where}: ${error.code ?? error.message}`);
    });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(
        `${where} is not JSON: write it with \`sluice analyze <logs> --format json --out ${where}\``,
      );
    }
    analyze = readAnalyzeHealth(json, where);
    measures.score = { value: analyze.score };
  }
  // With --analyze alone, the job is left out: a log folder's health needs no store.
  if (!opts.analyze || storeGiven || opts.job !== undefined) {
    const store = await openStore(opts.store, { create: false, readOnly: true });
    try {
      const chosen = await chooseJob(store, opts.job, store.location);
      job = chosen.job;
      const { status, report } = await readJob(store, job);
      measures = { ...measureJob(status, report, Date.now()), ...measures };
    } finally {
      await store.close();
    }
  }
  const applied = effectiveRules(rules, opts.defaults);
  const evaluation = evaluate(applied, measures);
  const summary = summaryLine(job, evaluation, measures, applied);
  process.stdout.write(
    opts.json
      ? `${JSON.stringify({ status: evaluation.verdict, code: evaluation.code, job, summary, measures, checks: evaluation.checks, ...(analyze ? { analyze } : {}) }, null, 2)}\n`
      : `${summary}\n`,
  );
  process.exitCode = evaluation.code;
}

export function registerHealth(program: Command): void {
  const command = program
    .command('health')
    .summary(
      'check a job against thresholds: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (monitoring plugins)',
    )
    .option('--store <path>', STORE_HELP, DEFAULT_STORE)
    .option('--job <name>', 'job to check (default: the latest)')
    .option('--warn <rule>', 'WARNING when the rule holds, e.g. rateLimited>5% (repeatable)', collect, [])
    .option('--crit <rule>', 'CRITICAL when the rule holds, e.g. serverError>1% (repeatable)', collect, [])
    .option(
      '--no-defaults',
      'check only the rules given (default: the rules below on metrics you name no rule for)',
    )
    .option(
      '--analyze <file>',
      'also check the health score of a `sluice analyze --format json` result (rule: score<70)',
    )
    .option('--json', 'print one JSON object: {"status", "code", "job", "summary", "measures", "checks"}')
    .addHelpText(
      'after',
      `
Rules: <metric><op><number>[%] with op one of > >= < <= =; a % rule is a share (of records for
the status classes, of items for failed and pending). A rule of yours on a metric replaces the
defaults on it. Metrics:
${Object.entries(METRICS)
  .map(([name, m]) => `  ${name.padEnd(15)} ${m.about}${m.shareOf ? ` (or % of ${m.shareOf})` : ''}`)
  .join('\n')}

Defaults: ${DEFAULT_RULES.map(([level, rule]) => `--${level} '${rule}'`).join(' ')}
(score rules only with --analyze; a default on a metric the job does not measure is skipped, a
rule of yours on one is UNKNOWN).

Output (Nagios/Icinga plugin format, perfdata after the |):
  SLUICE OK - job june: 92,010,331 records, 5.1 % rate limited, 0 failed items | rateLimited=5.1%;5;;0;100 ...

Examples:
  sluice health
  sluice health --job june --crit 'rateLimited>10%' --warn 'p95LatencyMs>3000'
  sluice health --store postgres://sluice@db/jobs --crit 'stalledMinutes>15' --json
  sluice analyze ./logs --format json --out result.json && sluice health --analyze result.json`,
    )
    .action(async (opts: HealthOptions, cmd: Command) => {
      try {
        await check(opts, cmd.getOptionValueSource('store') !== 'default');
      } catch (error) {
        unknown(error instanceof Error ? error.message : String(error), opts.json);
      }
    });

  // Bad usage is UNKNOWN (3) for a monitoring plugin, not the usual 2: the command's parse
  // errors end here (installed just before it parses, after the CLI's own exitOverride).
  program.hook('preSubcommand', (_program, sub) => {
    if (sub !== command) return;
    command.exitOverride((error: CommanderError) => {
      if (error.exitCode === 0) throw error; // --help
      unknown(`bad usage: ${error.message.replace(/^error: /, '')}`, process.argv.includes('--json'));
      process.exit(VERDICT_CODE.UNKNOWN);
    });
  });
}
