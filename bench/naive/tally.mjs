// The aggregation every hand-written contender does, the way a careful user would write it:
// status classes per model and version, and exact latency percentiles by sorting every value.
// Same definitions as the README: 2xx success, 429 rate limited, other 4xx client error, 5xx
// server error, anything else (no resultSignature, 1xx, 3xx, not a number) no status.

const CLASSES = ['success', 'rateLimited', 'clientError', 'serverError', 'noStatus'];
const WRAPPER = /^\s*\{\s*"records"\s*:/;

function props(value) {
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

function statusClass(raw) {
  const code =
    typeof raw === 'number' ? raw : typeof raw === 'string' && raw !== '' ? Number(raw) : Number.NaN;
  if (!Number.isInteger(code) || code < 100 || code > 599) return 'noStatus';
  if (code >= 200 && code < 300) return 'success';
  if (code === 429) return 'rateLimited';
  if (code >= 400 && code < 500) return 'clientError';
  if (code >= 500) return 'serverError';
  return 'noStatus';
}

function duration(value) {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value !== ''
        ? Number(value)
        : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** Exact lower nearest-rank percentile of a sorted array: sorted[floor(q * (n - 1))]. */
function percentile(sorted, q) {
  return sorted.length === 0 ? null : sorted[Math.floor(q * (sorted.length - 1))];
}

function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
  };
}

export class Tally {
  records = 0;
  malformedLines = 0;
  classes = Object.fromEntries(CLASSES.map((c) => [c, 0]));
  latencies = [];
  /** "model\0version" → { model, version, records, classes, latencies } */
  models = new Map();

  /** One parsed JSON value that should be a record. */
  record(value) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      this.malformedLines += 1;
      return;
    }
    const p = props(value.properties);
    const cls = statusClass(value.category === 'GatewayLogs' ? p?.responseCode : value.resultSignature);
    const model = typeof p?.modelName === 'string' && p.modelName !== '' ? p.modelName : null;
    const version = typeof p?.modelVersion === 'string' && p.modelVersion !== '' ? p.modelVersion : null;
    const key = `${model}\u0000${version}`;
    let m = this.models.get(key);
    if (!m) {
      m = {
        model,
        version,
        records: 0,
        classes: Object.fromEntries(CLASSES.map((c) => [c, 0])),
        latencies: [],
      };
      this.models.set(key, m);
    }
    this.records += 1;
    this.classes[cls] += 1;
    m.records += 1;
    m.classes[cls] += 1;
    const ms = cls === 'noStatus' ? null : duration(value.durationMs);
    if (ms !== null) {
      this.latencies.push(ms);
      m.latencies.push(ms);
    }
  }

  /** One line of a JSON-lines blob (without its line break). */
  line(text) {
    let line = text;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.trim() === '') return;
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      this.malformedLines += 1;
      return;
    }
    if (value && typeof value === 'object' && Array.isArray(value.records) && value.time === undefined) {
      for (const r of value.records) this.record(r);
    } else {
      this.record(value);
    }
  }

  /** A whole blob held as text: JSON lines, or the older {"records": [...]} document. */
  blob(text) {
    const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    if (WRAPPER.test(body.slice(0, 64))) {
      try {
        for (const r of JSON.parse(body).records) this.record(r);
        return;
      } catch {
        // not one document after all: read it as lines
      }
    }
    for (const line of body.split('\n')) this.line(line);
  }

  /** The subset of the `report --format json` contract that the benchmark compares. */
  summary() {
    const all = percentiles(this.latencies);
    return {
      records: this.records,
      malformedLines: this.malformedLines,
      statusClasses: this.classes,
      latencyMs: all,
      byModel: [...this.models.values()].map((m) => {
        const { count: _count, ...latencyMs } = percentiles(m.latencies);
        return { model: m.model, version: m.version, records: m.records, ...m.classes, latencyMs };
      }),
    };
  }
}

export { WRAPPER };
