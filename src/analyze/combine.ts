// Many files' summaries into one analysis (the `--format json` contract in DESIGN.md): templates
// merged across files' Drain states, errors, training runs, API figures and the health score.
import { type ApiTally, sketchOf, statusClass } from './api.js';
import { DRAIN_DEFAULTS, Drain, type DrainOptions, seen, templateId, templateText } from './drain.js';
import {
  type CategoryTally,
  type ErrorExample,
  type FileSummary,
  higherSeverity,
  MAX_EXAMPLES,
} from './file-analyzer.js';
import type { LogFormat } from './formats.js';
import { type Health, healthScore } from './health.js';
import { emptyLevelCounts, LEVELS, type Level } from './levels.js';
import { CATEGORIES, type Category, type Severity } from './rules.js';
import type { TrainingRun } from './training.js';

export interface Template {
  id: string;
  template: string;
  count: number;
  level: Level | null;
  levels: Partial<Record<Level, number>>;
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface LatencySummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface Analysis {
  files: { path: string; format: LogFormat; lines: number; events: number; skipped?: string }[];
  events: number;
  levels: Record<Level, number>;
  eventsWithoutLevel: number;
  timeRange: { first: string | null; last: string | null };
  errors: {
    total: number;
    byCategory: {
      category: Category;
      severity: Severity;
      count: number;
      examples: ErrorExample[];
      advice: string;
      rules: { rule: string; count: number; severity: Severity; advice: string }[];
    }[];
  };
  templates: Template[];
  templateCount: number;
  templatesCapped: number;
  training: JsonTrainingRun[];
  api: {
    requests: number;
    statusCodes: Record<string, number>;
    statusClasses: Record<string, number>;
    latencyMs: LatencySummary;
    slowRequests: { thresholdMs: number; count: number; examples: ApiTally['slowExamples'] };
    byEndpoint: { endpoint: string; requests: number; serverErrors: number; latencyMs: LatencySummary }[];
  };
  skipped: { longLines: number; invalidUtf8Lines: number; files: { path: string; reason: string }[] };
  health: Health;
}

/** A training run as JSON can hold it: NaN and infinities as the strings "NaN", "Infinity", "-Infinity". */
export type JsonTrainingRun = Omit<TrainingRun, 'epochs'> & {
  epochs: Record<string, number | string>[];
};

export interface Combined {
  analysis: Analysis;
  /** For each file (in input order), its cluster index -> the merged template. */
  templateOf: (fileIndex: number, cluster: number) => Template | null;
}

export const TOP_TEMPLATES = 50;

export function combine(
  summaries: FileSummary[],
  options: { slowMs: number; drain?: DrainOptions; topTemplates?: number },
): Combined {
  const levels = emptyLevelCounts();
  let events = 0;
  let noLevel = 0;
  let first: string | null = null;
  let last: string | null = null;
  const errors = new Map<Category, CategoryTally>();
  const drain = new Drain(options.drain ?? DRAIN_DEFAULTS);
  const mappings: number[][] = [];
  const skipped: Analysis['skipped'] = { longLines: 0, invalidUtf8Lines: 0, files: [] };
  let overflow = 0;
  for (const s of summaries) {
    events += s.events;
    noLevel += s.noLevel;
    for (const level of LEVELS) levels[level] += s.levels[level];
    if (s.first && (!first || s.first < first)) first = s.first;
    if (s.last && (!last || s.last > last)) last = s.last;
    for (const tally of Object.values(s.errors)) mergeCategory(errors, tally);
    mappings.push(
      s.clusters.map((c) => drain.addTokens(c.tokens, c.count, c.levels, c.firstSeen, c.lastSeen)),
    );
    overflow += s.templateOverflow;
    skipped.longLines += s.skipped.longLines;
    skipped.invalidUtf8Lines += s.skipped.invalidUtf8Lines;
    if (s.skipped.file) skipped.files.push({ path: s.path, reason: s.skipped.file });
  }
  overflow += drain.overflow;

  // Same template text, same id: clusters that ended with equal text are one template.
  const byId = new Map<string, Template>();
  const ofCluster: Template[] = [];
  for (const c of drain.clusters) {
    const text = templateText(c.tokens);
    const id = templateId(text);
    let t = byId.get(id);
    if (!t) {
      t = { id, template: text, count: 0, level: null, levels: {}, firstSeen: null, lastSeen: null };
      byId.set(id, t);
    }
    t.count += c.count;
    for (const [level, n] of Object.entries(c.levels) as [Level, number][])
      t.levels[level] = (t.levels[level] ?? 0) + n;
    const { firstSeen, lastSeen } = seen(c);
    if (firstSeen && (!t.firstSeen || firstSeen < t.firstSeen)) t.firstSeen = firstSeen;
    if (lastSeen && (!t.lastSeen || lastSeen > t.lastSeen)) t.lastSeen = lastSeen;
    ofCluster[c.index] = t;
  }
  const templates = [...byId.values()];
  for (const t of templates) t.level = mostCommonLevel(t.levels);
  templates.sort((a, b) => b.count - a.count || a.id.localeCompare(b.id));

  const byCategory = [...errors.values()]
    .sort((a, b) => CATEGORIES.indexOf(a.category) - CATEGORIES.indexOf(b.category))
    .map((t) => {
      const rules = Object.entries(t.rules)
        .map(([rule, r]) => ({ rule, count: r.count, severity: r.severity, advice: r.advice }))
        .sort((a, b) => b.count - a.count);
      return {
        category: t.category,
        severity: t.severity,
        count: t.count,
        examples: t.examples,
        advice: rules[0]?.advice ?? '',
        rules,
      };
    });

  const training = summaries.flatMap((s) => (s.training ? [jsonRun(s.training)] : []));
  const api = combineApi(
    summaries.map((s) => s.api),
    options.slowMs,
  );
  const errorEvents = levels.ERROR + levels.CRITICAL;
  const health = healthScore({
    events,
    errorEvents,
    criticalEvents: levels.CRITICAL,
    categories: byCategory,
    training: summaries.flatMap((s) =>
      s.training
        ? [
            {
              file: s.training.file,
              nonFinite: s.training.nonFinite.length,
              overfitting: s.training.overfitting.detected,
              fromEpoch: s.training.overfitting.fromEpoch,
              bestEpoch: s.training.bestEpoch,
            },
          ]
        : [],
    ),
    requests: api.requests,
    serverErrors: api.statusClasses.serverError ?? 0,
    slowRequests: api.slowRequests.count,
    slowMs: options.slowMs,
    skipped: skipped.longLines + skipped.files.length,
  });

  const analysis: Analysis = {
    files: summaries.map((s) => ({
      path: s.path,
      format: s.format,
      lines: s.lines,
      events: s.events,
      ...(s.skipped.file ? { skipped: s.skipped.file } : {}),
    })),
    events,
    levels,
    eventsWithoutLevel: noLevel,
    timeRange: { first, last },
    errors: { total: byCategory.reduce((sum, c) => sum + c.count, 0), byCategory },
    templates: templates.slice(0, options.topTemplates ?? TOP_TEMPLATES),
    templateCount: templates.length,
    templatesCapped: overflow,
    training,
    api,
    skipped,
    health,
  };
  return {
    analysis,
    templateOf: (fileIndex, cluster) => {
      const merged = mappings[fileIndex]?.[cluster];
      return merged === undefined || merged < 0 ? null : (ofCluster[merged] ?? null);
    },
  };
}

function mostCommonLevel(levels: Partial<Record<Level, number>>): Level | null {
  let best: Level | null = null;
  let bestCount = 0;
  for (const level of LEVELS) {
    const n = levels[level] ?? 0;
    if (n > bestCount) {
      best = level;
      bestCount = n;
    }
  }
  return best;
}

/** Adds one tally of a category into `into` (examples kept in the order given, up to MAX_EXAMPLES). */
export function mergeCategory(into: Map<Category, CategoryTally>, tally: CategoryTally): void {
  const at = into.get(tally.category);
  if (!at) {
    into.set(tally.category, {
      ...tally,
      examples: [...tally.examples],
      rules: Object.fromEntries(Object.entries(tally.rules).map(([k, v]) => [k, { ...v }])),
    });
    return;
  }
  at.count += tally.count;
  at.severity = higherSeverity(at.severity, tally.severity);
  for (const e of tally.examples) if (at.examples.length < MAX_EXAMPLES) at.examples.push(e);
  for (const [name, r] of Object.entries(tally.rules)) {
    const mine = at.rules[name];
    if (mine) mine.count += r.count;
    else at.rules[name] = { ...r };
  }
}

function jsonNumber(n: number): number | string {
  return Number.isFinite(n) ? n : String(n);
}

function jsonRun(run: TrainingRun): JsonTrainingRun {
  return {
    ...run,
    epochs: run.epochs.map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, jsonNumber(v)]))),
  };
}

function latencySummary(bins: [number, number][], count: number, max: number, sum: number): LatencySummary {
  if (count === 0) return { count: 0, mean: null, p50: null, p95: null, p99: null, max: null };
  const sketch = sketchOf(bins, max);
  const q = (p: number) => round(sketch.quantile(p));
  return { count, mean: round(sum / count), p50: q(0.5), p95: q(0.95), p99: q(0.99), max: round(max) };
}

function round(n: number | null): number | null {
  return n === null ? null : Math.round(n * 1000) / 1000;
}

function combineApi(tallies: ApiTally[], slowMs: number): Analysis['api'] {
  let requests = 0;
  const statusCodes: Record<string, number> = {};
  const bins: [number, number][] = [];
  let count = 0;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let slowCount = 0;
  const slowExamples: ApiTally['slowExamples'] = [];
  const endpoints = new Map<
    string,
    { requests: number; errors: number; sum: number; bins: [number, number][]; count: number; max: number }
  >();
  for (const t of tallies) {
    requests += t.requests;
    for (const [code, n] of Object.entries(t.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
    bins.push(...t.latency);
    count += t.latencyCount;
    max = Math.max(max, t.latencyMax);
    sum += t.durationSumMs;
    slowCount += t.slowCount;
    for (const e of t.slowExamples) if (slowExamples.length < 5) slowExamples.push(e);
    for (const [key, e] of Object.entries(t.byEndpoint)) {
      const at = endpoints.get(key) ?? {
        requests: 0,
        errors: 0,
        sum: 0,
        bins: [],
        count: 0,
        max: Number.NEGATIVE_INFINITY,
      };
      at.requests += e.requests;
      at.errors += e.errors;
      at.sum += e.durationSumMs;
      at.bins.push(...e.latency);
      at.count += e.latencyCount;
      at.max = Math.max(at.max, e.latencyMax);
      endpoints.set(key, at);
    }
  }
  const statusClasses: Record<string, number> = {};
  for (const [code, n] of Object.entries(statusCodes)) {
    const cls = statusClass(Number(code));
    statusClasses[cls] = (statusClasses[cls] ?? 0) + n;
  }
  return {
    requests,
    statusCodes,
    statusClasses,
    latencyMs: latencySummary(bins, count, max, sum),
    slowRequests: { thresholdMs: slowMs, count: slowCount, examples: slowExamples },
    byEndpoint: [...endpoints]
      .map(([endpoint, e]) => ({
        endpoint,
        requests: e.requests,
        serverErrors: e.errors,
        latencyMs: latencySummary(e.bins, e.count, e.max, e.sum),
      }))
      .sort((a, b) => b.requests - a.requests),
  };
}
