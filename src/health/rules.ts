// Health rules (`rateLimited>5%`, `failed>0`, `score<70`): parsed from the command line, checked
// against a job's measures, turned into the monitoring-plugin verdict (OK, WARNING, CRITICAL, UNKNOWN).

/** The monitoring-plugin convention (Nagios, Icinga, Sensu): the exit code is the verdict. */
export const VERDICTS = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
export type Verdict = (typeof VERDICTS)[number];
export const VERDICT_CODE: Record<Verdict, number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

export type Level = 'warn' | 'crit';

/** What a metric is counted in: its rules and perfdata follow. */
export type Unit = 'count' | 'ms' | 'minutes' | 'score';

export interface MetricInfo {
  unit: Unit;
  /** What a `%` rule is a share of (`rateLimited>5%`: of records); none: `%` is refused. */
  shareOf?: string;
  /** One line for `--help` and errors. */
  about: string;
}

/** Every metric a rule may name. */
export const METRICS: Readonly<Record<string, MetricInfo>> = {
  records: { unit: 'count', about: 'log records counted' },
  success: { unit: 'count', shareOf: 'records', about: '2xx records' },
  rateLimited: { unit: 'count', shareOf: 'records', about: '429 records' },
  clientError: { unit: 'count', shareOf: 'records', about: 'other 4xx records' },
  serverError: { unit: 'count', shareOf: 'records', about: '5xx records' },
  noStatus: { unit: 'count', shareOf: 'records', about: 'records without a usable status' },
  malformedLines: { unit: 'count', about: 'lines that are not a record' },
  failed: { unit: 'count', shareOf: 'items', about: 'items failed for good' },
  pending: { unit: 'count', shareOf: 'items', about: 'items not done yet' },
  p50LatencyMs: { unit: 'ms', about: 'median latency of the records' },
  p95LatencyMs: { unit: 'ms', about: '95th percentile latency' },
  p99LatencyMs: { unit: 'ms', about: '99th percentile latency' },
  stalledMinutes: {
    unit: 'minutes',
    about: 'minutes without a sign of work (a heartbeat, a run ending) while items are left; 0 when none are',
  },
  staleWorkers: { unit: 'count', about: 'workers whose heartbeat stopped while they held items' },
  timeouts: { unit: 'count', about: 'request timeouts in the recent runs' },
  throttled: { unit: 'count', about: 'requests the service pushed back (429/503) in the recent runs' },
  score: {
    unit: 'score',
    about: 'the health score of `sluice analyze --format json` (0-100), with --analyze',
  },
};

export type Operator = '>' | '>=' | '<' | '<=' | '=';

export interface Rule {
  level: Level;
  metric: string;
  op: Operator;
  /** The threshold: a share in percent when `percent`, else in the metric's unit. */
  threshold: number;
  percent: boolean;
  /** As written, for messages. */
  text: string;
  /** One of the defaults (documented in `sluice health --help`), not the user's. */
  byDefault?: boolean;
}

/** A rule that cannot be read: the command reports UNKNOWN (exit 3). */
export class RuleError extends Error {
  override readonly name = 'RuleError';
}

const RULE = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(>=|<=|>|<|==?)\s*(-?\d+(?:\.\d+)?)\s*(%?)\s*$/;

export function parseRule(text: string, level: Level): Rule {
  const m = RULE.exec(text);
  if (!m) {
    throw new RuleError(
      `cannot read the rule "${text}": write <metric><op><number>[%], e.g. rateLimited>5% or p95LatencyMs>3000 (ops: > >= < <= =)`,
    );
  }
  const [, metric = '', op = '', value = '', pct = ''] = m;
  const info = METRICS[metric];
  if (!info) {
    throw new RuleError(
      `unknown metric "${metric}" in the rule "${text}"; metrics: ${Object.keys(METRICS).join(', ')}`,
    );
  }
  const percent = pct === '%';
  if (percent && !info.shareOf) {
    throw new RuleError(`"${metric}" is not a share: write the rule without % (it is in ${info.unit})`);
  }
  return {
    level,
    metric,
    op: op === '==' ? '=' : (op as Operator),
    threshold: Number(value),
    percent,
    text: text.replace(/\s+/g, ''),
  };
}

/**
 * The rules that apply when the user says nothing of a metric: each means something on its own
 * (a job where more than 5 % of calls were throttled deserves a look; a job where items wait
 * and nothing has moved for half an hour is stuck). A rule of the user's on a metric replaces the
 * defaults on that metric; `--no-defaults` drops them all.
 */
export const DEFAULT_RULES: readonly string[][] = [
  ['warn', 'rateLimited>5%'],
  ['warn', 'serverError>1%'],
  ['crit', 'serverError>5%'],
  ['warn', 'failed>0'],
  ['crit', 'stalledMinutes>30'],
  ['warn', 'staleWorkers>0'],
  ['warn', 'score<70'],
  ['crit', 'score<50'],
];

export function defaultRules(): Rule[] {
  return DEFAULT_RULES.map(([level, text]) => ({
    ...parseRule(text as string, level as Level),
    byDefault: true,
  }));
}

/** The user's rules plus the defaults on metrics the user left alone. */
export function effectiveRules(user: Rule[], useDefaults: boolean): Rule[] {
  if (!useDefaults) return user;
  const named = new Set(user.map((r) => r.metric));
  return [...user, ...defaultRules().filter((r) => !named.has(r.metric))];
}

/** One metric as measured: its value (in its unit) and, for shares, what it is a share of. */
export interface Measure {
  value: number;
  /** The base of its share (records, items), when it has one. */
  of?: number;
}

export type Measures = Record<string, Measure>;

export interface Check {
  rule: string;
  level: Level;
  metric: string;
  /** The value compared: percent for a share rule. */
  value: number | null;
  breached: boolean;
  byDefault: boolean;
  /** Why the rule could not be checked (the metric is not measured for this job). */
  unmeasured?: string;
}

export interface Evaluation {
  verdict: Verdict;
  code: number;
  checks: Check[];
}

/** The value a rule compares: a share in percent for `%` rules, null when it means nothing (no base). */
export function ruleValue(rule: Rule, measure: Measure): number | null {
  if (!rule.percent) return measure.value;
  if (!measure.of) return null;
  return (measure.value * 100) / measure.of;
}

function holds(value: number, op: Operator, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '=':
      return value === threshold;
  }
}

/**
 * Checks every rule. A default rule on a metric this job does not measure (a command job has no
 * records) is skipped; a rule of the user's on one makes the verdict UNKNOWN: the check the user
 * asked for cannot be made, and saying OK would be a lie.
 */
export function evaluate(rules: Rule[], measures: Measures): Evaluation {
  const checks: Check[] = [];
  for (const rule of rules) {
    const measure = measures[rule.metric];
    const value = measure ? ruleValue(rule, measure) : null;
    if (value === null) {
      if (rule.byDefault) continue;
      checks.push({
        rule: rule.text,
        level: rule.level,
        metric: rule.metric,
        value: null,
        breached: false,
        byDefault: false,
        unmeasured: measure
          ? `${rule.metric} is a share of ${METRICS[rule.metric]?.shareOf}, and there are none yet`
          : `${rule.metric} is not measured here`,
      });
      continue;
    }
    checks.push({
      rule: rule.text,
      level: rule.level,
      metric: rule.metric,
      value: Math.round(value * 1000) / 1000,
      breached: holds(value, rule.op, rule.threshold),
      byDefault: rule.byDefault === true,
    });
  }
  const verdict: Verdict = checks.some((c) => c.unmeasured)
    ? 'UNKNOWN'
    : checks.some((c) => c.breached && c.level === 'crit')
      ? 'CRITICAL'
      : checks.some((c) => c.breached)
        ? 'WARNING'
        : 'OK';
  return { verdict, code: VERDICT_CODE[verdict], checks };
}
