// Judges a contender's answer against the dataset's truth.json on the totals every contender
// computes: record count, status classes, latency p50/p95/p99 (within 1 %), and the same per
// model and version.

/** What each contender prints (a subset of `sluice report --format json`), or the error it hit. */
export interface Summary {
  error?: string;
  records?: number;
  malformedLines?: number | null;
  statusClasses?: Record<string, number>;
  latencyMs?: { count?: number; p50: number | null; p95: number | null; p99: number | null };
  byModel?: ModelRow[];
}

interface ModelRow {
  model: string | null;
  version: string | null;
  records: number;
  [k: string]: unknown;
}

export interface Verdict {
  records: number | null;
  recordsDelta: number | null;
  classesMatch: boolean;
  percentilesMatch: boolean;
  byModelMatch: boolean;
  /** Readable differences, the first few of each kind. */
  diffs: string[];
}

const CLASSES = ['success', 'rateLimited', 'clientError', 'serverError', 'noStatus'] as const;
const MODEL_COUNTS = ['records', 'success', 'rateLimited', 'clientError', 'serverError'] as const;
const QUANTILES = ['p50', 'p95', 'p99'] as const;

/** Within the 1 % the contract allows, plus half a unit for whole-millisecond rounding. */
function near(actual: unknown, expected: unknown): boolean {
  if (typeof actual !== 'number' || typeof expected !== 'number') return actual === expected;
  return Math.abs(actual - expected) <= Math.abs(expected) * 0.01 + 0.5;
}

export function judge(summary: Summary, truth: Record<string, unknown>): Verdict {
  const diffs: string[] = [];
  if (summary.error !== undefined || summary.records === undefined) {
    return {
      records: null,
      recordsDelta: null,
      classesMatch: false,
      percentilesMatch: false,
      byModelMatch: false,
      diffs: [summary.error ?? 'no answer'],
    };
  }
  const tClasses = truth.statusClasses as Record<string, number>;
  const classDiffs = CLASSES.filter((c) => summary.statusClasses?.[c] !== tClasses[c]).map(
    (c) => `${c} ${signed((summary.statusClasses?.[c] ?? 0) - (tClasses[c] ?? 0))}`,
  );
  if (classDiffs.length > 0) diffs.push(`statusClasses: ${classDiffs.join(', ')}`);

  const tLat = truth.latencyMs as Record<string, number>;
  const latDiffs = QUANTILES.filter((q) => !near(summary.latencyMs?.[q], tLat[q])).map(
    (q) => `${q} ${summary.latencyMs?.[q]} vs ${tLat[q]}`,
  );
  if (latDiffs.length > 0) diffs.push(`latency: ${latDiffs.join(', ')}`);

  const key = (r: { model: string | null; version: string | null }) =>
    `${r.model ?? '∅'}/${r.version ?? '∅'}`;
  const expected = new Map((truth.byModel as ModelRow[]).map((r) => [key(r), r]));
  const actual = new Map((summary.byModel ?? []).map((r) => [key(r), r]));
  const modelDiffs: string[] = [];
  for (const k of new Set([...expected.keys(), ...actual.keys()])) {
    const a = actual.get(k);
    const e = expected.get(k);
    if (!a || !e) {
      modelDiffs.push(`${k} ${a ? 'unexpected' : 'missing'}`);
      continue;
    }
    const counts = MODEL_COUNTS.filter((f) => a[f] !== e[f]).map(
      (f) => `${f} ${signed(Number(a[f]) - Number(e[f]))}`,
    );
    const aLat = (a.latencyMs ?? {}) as Record<string, unknown>;
    const eLat = (e.latencyMs ?? {}) as Record<string, unknown>;
    const lat = QUANTILES.filter((q) => !near(aLat[q], eLat[q])).map((q) => `${q} ${aLat[q]} vs ${eLat[q]}`);
    if (counts.length + lat.length > 0) modelDiffs.push(`${k}: ${[...counts, ...lat].join(', ')}`);
  }
  if (modelDiffs.length > 0) {
    diffs.push(
      `byModel (${modelDiffs.length} of ${expected.size} groups differ): ${modelDiffs.slice(0, 3).join('; ')}`,
    );
  }
  return {
    records: summary.records,
    recordsDelta: summary.records - (truth.records as number),
    classesMatch: classDiffs.length === 0,
    percentilesMatch: latDiffs.length === 0,
    byModelMatch: modelDiffs.length === 0,
    diffs,
  };
}

export function signed(n: number): string {
  return n > 0 ? `+${n.toLocaleString('en-US')}` : n < 0 ? `−${(-n).toLocaleString('en-US')}` : '0';
}

/** The table cells for a verdict. */
export interface VerdictCells {
  records: string;
  classes: string;
  'p50/p95/p99': string;
  byModel: string;
}

export function verdictCells(v: Verdict | null): VerdictCells {
  if (!v) return { records: 'n/a', classes: 'n/a', 'p50/p95/p99': 'n/a', byModel: 'n/a' };
  if (v.records === null) return { records: 'no answer', classes: '✗', 'p50/p95/p99': '✗', byModel: '✗' };
  const exact = v.recordsDelta === 0 ? ' (exact)' : ` (${signed(v.recordsDelta ?? 0)})`;
  return {
    records: `${v.records.toLocaleString('en-US')}${exact}`,
    classes: v.classesMatch ? '✓' : '✗',
    'p50/p95/p99': v.percentilesMatch ? '✓' : '✗',
    byModel: v.byModelMatch ? '✓' : '✗',
  };
}
