// Compares a report with an expected one (e.g. a synth dataset's truth.json) on every contract
// key: counts exactly, latency percentiles within the sketch's 1 % relative error.
import { RELATIVE_ACCURACY } from '../aggregate/sketch.js';

type Json = Record<string, unknown>;

const CLASS_KEYS = ['success', 'rateLimited', 'clientError', 'serverError', 'noStatus'] as const;
const DAY_KEYS = ['records', ...CLASS_KEYS] as const;
const MODEL_KEYS = ['records', 'success', 'rateLimited', 'clientError', 'serverError'] as const;

function near(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'number' || typeof actual !== 'number') return actual === expected;
  // The sketch's guarantee, plus half a unit for rounding of whole-millisecond values.
  return Math.abs(actual - expected) <= Math.abs(expected) * RELATIVE_ACCURACY + 0.5;
}

/** The differences between `actual` and `expected`, as readable lines; empty when they agree. */
export function compareReports(actual: Json, expected: Json): string[] {
  const diffs: string[] = [];
  const same = (path: string, a: unknown, e: unknown) => {
    if (a !== e) diffs.push(`${path}: got ${JSON.stringify(a)}, expected ${JSON.stringify(e)}`);
  };
  const close = (path: string, a: unknown, e: unknown) => {
    if (!near(a, e)) diffs.push(`${path}: got ${JSON.stringify(a)}, expected ${JSON.stringify(e)} (±1 %)`);
  };
  const obj = (v: unknown) => (v ?? {}) as Json;

  for (const k of ['total', 'done', 'failed', 'pending'])
    same(`items.${k}`, obj(actual.items)[k], obj(expected.items)[k]);
  same('records', actual.records, expected.records);
  same('malformedLines', actual.malformedLines, expected.malformedLines);
  for (const k of CLASS_KEYS)
    same(`statusClasses.${k}`, obj(actual.statusClasses)[k], obj(expected.statusClasses)[k]);
  const codes = new Set([...Object.keys(obj(actual.statusCodes)), ...Object.keys(obj(expected.statusCodes))]);
  for (const k of codes) same(`statusCodes.${k}`, obj(actual.statusCodes)[k], obj(expected.statusCodes)[k]);
  for (const k of ['first', 'last']) {
    const a = obj(actual.timeRange)[k];
    const e = obj(expected.timeRange)[k];
    if (a !== e && Date.parse(String(a)) !== Date.parse(String(e))) same(`timeRange.${k}`, a, e);
  }
  const lat = obj(actual.latencyMs);
  const elat = obj(expected.latencyMs);
  same('latencyMs.count', lat.count, elat.count);
  for (const k of ['p50', 'p95', 'p99', 'max']) close(`latencyMs.${k}`, lat[k], elat[k]);

  // Rows are matched by their key, in any order; a row on one side only is a difference.
  const eachPair = (
    section: string,
    key: (r: Json) => string,
    check: (k: string, a: Json, e: Json) => void,
  ) => {
    const rows = (v: unknown) => new Map(((v ?? []) as Json[]).map((r) => [key(r), r]));
    const got = rows(actual[section]);
    const want = rows(expected[section]);
    for (const k of new Set([...got.keys(), ...want.keys()])) {
      const a = got.get(k);
      const e = want.get(k);
      if (a && e) check(`${section} ${k}`, a, e);
      else diffs.push(`${section} ${k}: ${a ? 'not expected' : 'missing'}`);
    }
  };
  eachPair(
    'byModel',
    (r) => JSON.stringify([r.model ?? null, r.version ?? null]),
    (where, a, e) => {
      for (const f of MODEL_KEYS) same(`${where}.${f}`, a[f], e[f]);
      for (const p of ['p50', 'p95', 'p99'])
        close(`${where}.latencyMs.${p}`, obj(a.latencyMs)[p], obj(e.latencyMs)[p]);
    },
  );
  eachPair(
    'byDay',
    (r) => String(r.day),
    (where, a, e) => {
      for (const f of DAY_KEYS) same(`${where}.${f}`, a[f], e[f]);
    },
  );
  return diffs;
}
