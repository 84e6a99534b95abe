// The one line a monitoring system shows and graphs: `SLUICE <VERDICT> - <what>, <facts> | <perfdata>`
// (Nagios plugin output: perfdata `'label'=value[UOM];warn;crit;min;max`).
import { count } from '../cli/format.js';
import { type Evaluation, METRICS, type Measures, type Rule } from './rules.js';

/** Metrics graphed as a share of records (in %); the others as their count or value. */
const AS_PERCENT = new Set(['success', 'rateLimited', 'clientError', 'serverError', 'noStatus', 'throttled']);

const UOM: Record<string, string> = { ms: 'ms', count: '', minutes: '', score: '' };

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function share(measures: Measures, metric: string): number | null {
  const m = measures[metric];
  return m?.of ? (m.value * 100) / m.of : null;
}

/** A Nagios threshold range for a rule: `>x` alerts above x (`x`), `<x` below it (`x:`). */
function range(rule: Rule | undefined): string {
  if (!rule) return '';
  return rule.op.startsWith('<') ? `${rule.threshold}:` : String(rule.threshold);
}

export function perfdata(measures: Measures, rules: Rule[]): string {
  const out: string[] = [];
  for (const [metric, m] of Object.entries(measures)) {
    const percent = AS_PERCENT.has(metric);
    if (percent && !m.of) continue;
    const value = percent ? round(share(measures, metric) ?? 0, 3) : round(m.value, 3);
    const on = (level: Rule['level']) =>
      rules.find((r) => r.metric === metric && r.level === level && r.percent === percent);
    const uom = percent ? '%' : (UOM[METRICS[metric]?.unit ?? 'count'] ?? '');
    out.push(`${metric}=${value}${uom};${range(on('warn'))};${range(on('crit'))};0;${percent ? 100 : ''}`);
  }
  return out.join(' ');
}

/** The facts worth reading at a glance, breached rules first. */
export function summaryLine(
  job: string | null,
  evaluation: Evaluation,
  measures: Measures,
  rules: Rule[],
): string {
  const breached = evaluation.checks
    .filter((c) => c.breached || c.unmeasured)
    .map((c) =>
      c.unmeasured
        ? `${c.rule}: ${c.unmeasured}`
        : `${c.rule} (${c.metric} ${round(c.value ?? 0, 2)}${c.rule.endsWith('%') ? ' %' : ''}, ${c.level === 'crit' ? 'critical' : 'warning'})`,
    );
  const facts: string[] = [];
  const rec = measures.records;
  if (rec) {
    facts.push(`${count(rec.value)} records`);
    const limited = share(measures, 'rateLimited');
    if (limited !== null) facts.push(`${round(limited)} % rate limited`);
    const server = share(measures, 'serverError');
    if (server !== null && server > 0) facts.push(`${round(server, 2)} % server errors`);
  }
  if (measures.failed) facts.push(`${count(measures.failed.value)} failed items`);
  if (measures.pending && measures.pending.value > 0)
    facts.push(`${count(measures.pending.value)} items left`);
  if (measures.stalledMinutes && measures.stalledMinutes.value >= 1)
    facts.push(`no progress for ${Math.floor(measures.stalledMinutes.value)} min`);
  if (measures.staleWorkers && measures.staleWorkers.value > 0)
    facts.push(`${measures.staleWorkers.value} workers silent`);
  if (measures.score) facts.push(`health score ${round(measures.score.value)}`);
  const what = [breached.join('; '), [job ? `job ${job}` : '', facts.join(', ')].filter(Boolean).join(': ')]
    .filter(Boolean)
    .join(' - ');
  const perf = perfdata(measures, rules);
  return `SLUICE ${evaluation.verdict} - ${what}${perf ? ` | ${perf}` : ''}`;
}
