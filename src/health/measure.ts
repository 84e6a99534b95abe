// What `sluice health` measures: a job's status and report, and an analyze result's health
// score, turned into the named measures its rules compare. Pure: time comes in as `now`.
import type { JobStatus } from '../store/types.js';
import type { Measures } from './rules.js';

/** The parts of a task's report health reads (the azure-logs report has them; a command job does not). */
interface ReportFields {
  records?: number;
  malformedLines?: number;
  statusClasses?: Record<string, number>;
  latencyMs?: { p50?: number | null; p95?: number | null; p99?: number | null };
  timeouts?: number;
}

const STATUS_CLASS_METRICS = ['success', 'rateLimited', 'clientError', 'serverError', 'noStatus'] as const;

/** When the job last showed a sign of work: a worker's heartbeat, a run starting or ending. */
export function lastSignOfWork(status: JobStatus): number | null {
  let last: number | null = null;
  const see = (t: number | null | undefined) => {
    if (typeof t === 'number' && Number.isFinite(t) && (last === null || t > last)) last = t;
  };
  for (const w of status.workers ?? []) see(w.lastSeen);
  for (const r of status.runs) {
    see(r.startedAt);
    see(r.endedAt);
  }
  for (const e of status.events) see(e.at);
  return last;
}

export function measureJob(status: JobStatus, report: object | null, now: number): Measures {
  const items = status.items;
  const m: Measures = {
    failed: { value: items.failed, of: items.total },
    pending: { value: items.pending + items.leased, of: items.total },
  };

  // Stalled: work is left and nothing has moved for that long. A job nobody has run yet is
  // stalled since it was created... which the store does not say: its first run is the clock.
  const left = items.pending + items.leased > 0 || !status.listingComplete;
  const last = lastSignOfWork(status);
  m.stalledMinutes = { value: left && last !== null ? Math.max(0, (now - last) / 60_000) : 0 };

  m.staleWorkers = { value: (status.workers ?? []).filter((w) => w.stale && w.leased > 0).length };

  // Request counters are written when a run ends: the recent runs' sum.
  const sum = (key: string) => status.runs.reduce((n, r) => n + (r.stats[key] ?? 0), 0);
  if (status.runs.some((r) => r.stats['http.requests'] !== undefined)) {
    m.timeouts = { value: sum('http.timeouts') };
    m.throttled = { value: sum('http.throttled'), of: sum('http.requests') };
  }

  const r = (report ?? {}) as ReportFields;
  // A command job's report counts its own timeouts (items stopped at --timeout).
  if (typeof r.timeouts === 'number') m.timeouts = { value: r.timeouts };
  if (typeof r.records === 'number') {
    m.records = { value: r.records };
    if (typeof r.malformedLines === 'number') m.malformedLines = { value: r.malformedLines };
    for (const cls of STATUS_CLASS_METRICS) {
      const n = r.statusClasses?.[cls];
      if (typeof n === 'number') m[cls] = { value: n, of: r.records };
    }
    for (const [metric, p] of [
      ['p50LatencyMs', r.latencyMs?.p50],
      ['p95LatencyMs', r.latencyMs?.p95],
      ['p99LatencyMs', r.latencyMs?.p99],
    ] as const) {
      if (typeof p === 'number') m[metric] = { value: p };
    }
  }
  return m;
}

/** The `health` object of `sluice analyze --format json`, as health reads it. */
export interface AnalyzeHealth {
  score: number;
  grade?: string;
  penalties?: { reason: string; points: number }[];
}

/** Reads an analyze result; throws an Error saying what is missing when it is not one. */
export function readAnalyzeHealth(json: unknown, where: string): AnalyzeHealth {
  const health = (json as { health?: unknown } | null)?.health as Partial<AnalyzeHealth> | undefined;
  if (!health || typeof health.score !== 'number' || !Number.isFinite(health.score)) {
    throw new Error(
      `${where} has no "health": {"score": <number>} (write it with \`sluice analyze <logs> --format json --out ${where}\`)`,
    );
  }
  return {
    score: health.score,
    ...(typeof health.grade === 'string' ? { grade: health.grade } : {}),
    ...(Array.isArray(health.penalties) ? { penalties: health.penalties } : {}),
  };
}
