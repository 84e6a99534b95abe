// The expected report, counted from what the generator wrote (never by parsing it back, and never
// with sluice's own code): truth.json is what `sluice report --format json` must agree with.
import type { Facts } from './records.js';

/** Exact latency distribution: a histogram of integer ms, so memory is bounded by distinct values. */
class LatencyHistogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  max = Number.NEGATIVE_INFINITY;

  add(ms: number): void {
    this.counts.set(ms, (this.counts.get(ms) ?? 0) + 1);
    this.count += 1;
    if (ms > this.max) this.max = ms;
  }

  /** Exact lower nearest-rank percentiles: sorted[floor(q * (count - 1))]; null when empty. */
  quantiles(qs: number[]): (number | null)[] {
    if (this.count === 0) return qs.map(() => null);
    const values = [...this.counts.keys()].sort((a, b) => a - b);
    return qs.map((q) => {
      const rank = Math.floor(q * (this.count - 1));
      let seen = 0;
      for (const v of values) {
        seen += this.counts.get(v) as number;
        if (seen > rank) return v;
      }
      return this.max;
    });
  }
}

type StatusClass = 'success' | 'rateLimited' | 'clientError' | 'serverError' | 'noStatus';

/** sluice's status classes: 2xx, 429, other 4xx, 5xx, and everything else (absent included). */
export function statusClass(status: number | null): StatusClass {
  if (status === null) return 'noStatus';
  if (status >= 200 && status <= 299) return 'success';
  if (status === 429) return 'rateLimited';
  if (status >= 400 && status <= 499) return 'clientError';
  if (status >= 500 && status <= 599) return 'serverError';
  return 'noStatus';
}

class Tally {
  records = 0;
  success = 0;
  rateLimited = 0;
  clientError = 0;
  serverError = 0;
  noStatus = 0;

  add(cls: StatusClass): void {
    this.records += 1;
    this[cls] += 1;
  }
}

class ModelGroup extends Tally {
  readonly latency = new LatencyHistogram();
  constructor(
    readonly model: string | null,
    readonly version: string | null,
  ) {
    super();
  }
}

/** Counts of each quirk actually written, for `_about` and for tests that look for them. */
export interface QuirkCounts {
  bomBlobs: number;
  crlfBlobs: number;
  emptyBlobs: number;
  wrapperBlobs: number;
  prettyWrapperBlobs: number;
  cutLastLines: number;
  garbageLines: number;
  blankLines: number;
  lateRecords: number;
  lateRecordsOtherDay: number;
  companionRecords: number;
}

export class Truth {
  private blobs = 0;
  private malformedLines = 0;
  private readonly totals = new Tally();
  private readonly statusCodes = new Map<number, number>();
  private readonly latency = new LatencyHistogram();
  private readonly models = new Map<string | null, Map<string | null, ModelGroup>>();
  private readonly days = new Map<string, Tally>();
  private first: Facts | undefined;
  private last: Facts | undefined;
  readonly quirks: QuirkCounts = {
    bomBlobs: 0,
    crlfBlobs: 0,
    emptyBlobs: 0,
    wrapperBlobs: 0,
    prettyWrapperBlobs: 0,
    cutLastLines: 0,
    garbageLines: 0,
    blankLines: 0,
    lateRecords: 0,
    lateRecordsOtherDay: 0,
    companionRecords: 0,
  };

  get records(): number {
    return this.totals.records;
  }

  blob(): void {
    this.blobs += 1;
  }

  malformed(): void {
    this.malformedLines += 1;
  }

  /** Counts one record; `f` is copied where kept, as the caller reuses it. */
  record(f: Facts): void {
    const cls = statusClass(f.status);
    this.totals.add(cls);
    if (f.status !== null) this.statusCodes.set(f.status, (this.statusCodes.get(f.status) ?? 0) + 1);
    let byVersion = this.models.get(f.model);
    if (!byVersion) {
      byVersion = new Map();
      this.models.set(f.model, byVersion);
    }
    let group = byVersion.get(f.version);
    if (!group) {
      group = new ModelGroup(f.model, f.version);
      byVersion.set(f.version, group);
    }
    group.add(cls);
    if (cls !== 'noStatus' && f.durationMs !== null && f.durationMs >= 0) {
      this.latency.add(f.durationMs);
      group.latency.add(f.durationMs);
    }
    const day = f.time.slice(0, 10);
    let tally = this.days.get(day);
    if (!tally) {
      tally = new Tally();
      this.days.set(day, tally);
    }
    tally.add(cls);
    if (!this.first || before(f, this.first)) this.first = { ...f };
    if (!this.last || before(this.last, f)) this.last = { ...f };
  }

  /** The report contract of DESIGN.md, plus `_about`. */
  toJSON(about: Record<string, unknown>): object {
    const [p50, p95, p99] = this.latency.quantiles([0.5, 0.95, 0.99]);
    const groups = [...this.models.values()].flatMap((m) => [...m.values()]);
    groups.sort((a, b) => b.records - a.records || order(a.model, b.model) || order(a.version, b.version));
    return {
      job: 'truth',
      items: { total: this.blobs, done: this.blobs, failed: 0, pending: 0 },
      records: this.totals.records,
      malformedLines: this.malformedLines,
      statusClasses: {
        success: this.totals.success,
        rateLimited: this.totals.rateLimited,
        clientError: this.totals.clientError,
        serverError: this.totals.serverError,
        noStatus: this.totals.noStatus,
      },
      statusCodes: Object.fromEntries(
        [...this.statusCodes].sort((a, b) => a[0] - b[0]).map(([code, n]) => [String(code), n]),
      ),
      timeRange: { first: this.first?.time ?? null, last: this.last?.time ?? null },
      latencyMs: {
        count: this.latency.count,
        p50,
        p95,
        p99,
        max: this.latency.count > 0 ? this.latency.max : null,
      },
      byModel: groups.map((g) => {
        const [gp50, gp95, gp99] = g.latency.quantiles([0.5, 0.95, 0.99]);
        return {
          model: g.model,
          version: g.version,
          records: g.records,
          success: g.success,
          rateLimited: g.rateLimited,
          clientError: g.clientError,
          serverError: g.serverError,
          latencyMs: { p50: gp50, p95: gp95, p99: gp99 },
        };
      }),
      byDay: [...this.days]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([day, t]) => ({
          day,
          records: t.records,
          success: t.success,
          rateLimited: t.rateLimited,
          clientError: t.clientError,
          serverError: t.serverError,
          noStatus: t.noStatus,
        })),
      _about: { ...about, quirks: this.quirks },
    };
  }
}

function before(a: Facts, b: Facts): boolean {
  return a.ms < b.ms || (a.ms === b.ms && a.sub < b.sub);
}

/** null first, then by code unit: a stable order for groups with equal record counts. */
function order(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
