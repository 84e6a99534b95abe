// Builds the `report --format json` object (DESIGN.md contract) from a job's aggregates.
import { type Delta, parseDimKey } from '../../../aggregate/delta.js';
import type { LatencySketch } from '../../../aggregate/sketch.js';
import type { JobStatus } from '../../../store/types.js';
import { KEYS } from '../parse.js';
import { STATUS_CLASSES, type StatusClass } from '../record.js';

export type ClassCounts = Record<StatusClass, number>;

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface ModelRow extends Omit<ClassCounts, 'noStatus'> {
  model: string | null;
  version: string | null;
  records: number;
  noStatus: number;
  latencyMs: Percentiles & { count: number };
}

export interface DayRow extends ClassCounts {
  day: string;
  records: number;
}

export interface NamedRow extends ClassCounts {
  name: string | null;
  records: number;
}

export interface Report {
  job: string;
  source: string;
  items: { total: number; done: number; failed: number; pending: number; leased: number };
  records: number;
  malformedLines: number;
  statusClasses: ClassCounts;
  statusCodes: Record<string, number>;
  timeRange: { first: string | null; last: string | null };
  latencyMs: Percentiles & { count: number; max: number | null };
  byModel: ModelRow[];
  byDay: DayRow[];
  byDeployment: NamedRow[];
  byOperation: NamedRow[];
  byCategory: NamedRow[];
  byResource: NamedRow[];
  /** Records whose `time` is missing or unreadable: counted, but in no day. */
  recordsWithoutTime: number;
  /**
   * Records counted under "(other)" in a dimension because a parse job had already seen its most
   * distinct values of it (see tasks/azure-logs/caps.ts), per dimension with any.
   */
  foldedRecords: Record<string, number>;
  failures: JobStatus['failures'];
}

const emptyClasses = (): ClassCounts => ({
  success: 0,
  rateLimited: 0,
  clientError: 0,
  serverError: 0,
  noStatus: 0,
});

function percentiles(sketch: LatencySketch | undefined): Percentiles & { count: number } {
  const q = (p: number) => {
    const v = sketch?.quantile(p) ?? null;
    return v === null ? null : Math.round(v * 100) / 100;
  };
  return { count: sketch?.count ?? 0, p50: q(0.5), p95: q(0.95), p99: q(0.99) };
}

function byRecords<T extends { records: number }>(a: T, b: T): number {
  return b.records - a.records;
}

export function buildReport(job: string, status: JobStatus, totals: Delta): Report {
  const statusClasses = emptyClasses();
  const statusCodes: Record<string, number> = {};
  const models = new Map<string, ModelRow>();
  const days = new Map<string, DayRow>();
  const named: Record<'deployment' | 'operation' | 'category' | 'resource', Map<string, NamedRow>> = {
    deployment: new Map(),
    operation: new Map(),
    category: new Map(),
    resource: new Map(),
  };
  let recordsWithoutTime = 0;
  const foldedRecords: Record<string, number> = {};

  for (const [key, n] of totals.counters) {
    const parts = parseDimKey(key);
    const dim = parts[0];
    if (dim === 'folded') {
      foldedRecords[String(parts[1])] = (foldedRecords[String(parts[1])] ?? 0) + n;
    } else if (dim === 'class') {
      statusClasses[parts[1] as StatusClass] += n;
    } else if (dim === 'code') {
      statusCodes[String(parts[1])] = (statusCodes[String(parts[1])] ?? 0) + n;
    } else if (dim === 'day_model') {
      const [, day, model, version, cls] = parts as [
        string,
        string | null,
        string | null,
        string | null,
        StatusClass,
      ];
      const mk = JSON.stringify([model, version]);
      let m = models.get(mk);
      if (!m) {
        m = { model, version, records: 0, ...emptyClasses(), latencyMs: percentiles(undefined) };
        models.set(mk, m);
      }
      m.records += n;
      m[cls] += n;
      if (day === null) {
        recordsWithoutTime += n;
        continue;
      }
      let d = days.get(day);
      if (!d) {
        d = { day, records: 0, ...emptyClasses() };
        days.set(day, d);
      }
      d.records += n;
      d[cls] += n;
    } else if (dim === 'deployment' || dim === 'operation' || dim === 'category' || dim === 'resource') {
      const [, name, cls] = parts as [string, string | null, StatusClass];
      const map = named[dim];
      const nk = JSON.stringify(name);
      let row = map.get(nk);
      if (!row) {
        row = { name, records: 0, ...emptyClasses() };
        map.set(nk, row);
      }
      row.records += n;
      row[cls] += n;
    }
  }
  for (const m of models.values())
    m.latencyMs = percentiles(totals.latency.get(JSON.stringify(['model', m.model, m.version])));

  const all = totals.latency.get(KEYS.latencyAll);
  const time = totals.bounds.get('time');
  return {
    job,
    source: status.source,
    items: {
      total: status.items.total,
      done: status.items.done,
      failed: status.items.failed,
      pending: status.items.pending,
      leased: status.items.leased,
    },
    records: totals.counters.get(KEYS.records) ?? 0,
    malformedLines: totals.counters.get(KEYS.malformed) ?? 0,
    statusClasses,
    statusCodes: Object.fromEntries(Object.entries(statusCodes).sort(([a], [b]) => a.localeCompare(b))),
    timeRange: { first: time?.min.text ?? null, last: time?.max.text ?? null },
    latencyMs: { ...percentiles(all), max: all && all.count > 0 ? all.max : null },
    byModel: [...models.values()].sort(byRecords),
    byDay: [...days.values()].sort((a, b) => a.day.localeCompare(b.day)),
    byDeployment: [...named.deployment.values()].sort(byRecords),
    byOperation: [...named.operation.values()].sort(byRecords),
    byCategory: [...named.category.values()].sort(byRecords),
    byResource: [...named.resource.values()].sort(byRecords),
    recordsWithoutTime,
    foldedRecords,
    failures: status.failures,
  };
}

export { STATUS_CLASSES };
