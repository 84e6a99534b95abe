// API requests found in log events: method, endpoint, status and duration, tallied into status
// classes, latency sketches (1 % relative accuracy) and per-endpoint figures with ids folded.
import { LatencySketch } from '../aggregate/sketch.js';
import { firstOf } from './formats.js';
import { type Positional, positional } from './groups.js';

export interface ApiRequest {
  method: string | null;
  path: string | null;
  status: number;
  durationMs: number | null;
}

const METHODS = 'GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|CONNECT|TRACE';
// RESPONSE POST /path 200 Duration: 245ms  |  GET /x 200 12ms  |  "GET /x HTTP/1.1" status: 200 len: 1 time: 0.2
/** `needs`: text every match holds, looked for first (natively) to spare the pattern most lines. */
const TEXT_SHAPES: (Positional & { unit: 'ms' | 's' | 'auto'; needs: string })[] = [
  {
    needs: '" status: ',
    // OpenStack/eventlet wsgi: "GET /v2/... HTTP/1.1" status: 200  len: 1893 time: 0.2477829 (seconds)
    ...positional(
      `"(?<method>${METHODS}) (?<path>\\S+)[^"]*" status: (?<status>\\d{3})\\s+len: \\d+\\s+time: (?<duration>[\\d.]+)`,
    ),
    unit: 's',
  },
  {
    needs: '/',
    ...positional(
      `\\b(?<method>${METHODS})\\s+(?<path>\\/\\S*)\\s+(?:HTTP\\/[\\d.]+\\s+)?(?:status[:=]?\\s*)?(?<status>[1-5]\\d{2})\\b(?:.*?(?:duration|latency|took|elapsed|time|in)[:=]?\\s*(?<duration>[\\d.]+)\\s*(?<unit>ms|s|us|µs|ns|sec|seconds)?\\b|\\s+(?<bare>[\\d.]+)\\s*(?<bareUnit>ms|s|us|µs)\\b)?`,
      'i',
    ),
    unit: 'auto',
  },
];

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  sec: 1000,
  seconds: 1000,
};

/** Methods as the text shapes match them (case-insensitively), in capitals. */
const METHOD_NAMES = new Map(
  METHODS.split('|').flatMap((m) => [[m, m] as const, [m.toLowerCase(), m] as const]),
);

/**
 * `Number(text)` for the digits and decimals a pattern matched: whole numbers of up to 15 digits
 * are read by hand (exact, and without the conversion's cost on a slice of a line).
 */
function decimal(text: string): number {
  const n = text.length;
  if (n === 0 || n > 15) return Number(text);
  let value = 0;
  for (let i = 0; i < n; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number(text);
    value = value * 10 + digit;
  }
  return value;
}

function groupIn(m: RegExpExecArray, at: Record<string, number>, name: string): string | undefined {
  const i = at[name];
  return i === undefined ? undefined : m[i];
}

/** A request in free text, or null. */
export function requestFromText(text: string): ApiRequest | null {
  if (!/\b[1-5]\d\d\b/.test(text)) return null;
  for (const shape of TEXT_SHAPES) {
    if (!text.includes(shape.needs)) continue;
    const m = shape.pattern.exec(text);
    if (!m) continue;
    // By position, not through a groups object: this runs on every request line.
    const { at } = shape;
    let durationMs: number | null = null;
    const raw = groupIn(m, at, 'duration') ?? groupIn(m, at, 'bare');
    if (raw !== undefined) {
      const unit = groupIn(m, at, 'unit') ?? groupIn(m, at, 'bareUnit') ?? (shape.unit === 's' ? 's' : 'ms');
      durationMs = decimal(raw) * (UNIT_MS[unit] ?? UNIT_MS[unit.toLowerCase()] ?? 1);
    }
    const method = groupIn(m, at, 'method') ?? '';
    return {
      method: METHOD_NAMES.get(method) ?? method.toUpperCase(),
      path: groupIn(m, at, 'path') ?? null,
      status: decimal(groupIn(m, at, 'status') as string),
      durationMs: finite(durationMs),
    };
  }
  return null;
}

function finite(n: number | null): number | null {
  return n !== null && Number.isFinite(n) && n >= 0 ? n : null;
}

const STATUS_KEYS = [
  'status',
  'status_code',
  'statusCode',
  'http.status_code',
  'http.response.status_code',
  'response.status',
  'res.statusCode',
  'http_status',
  'code',
];
const MS_KEYS = [
  'duration_ms',
  'durationMs',
  'latency_ms',
  'latencyMs',
  'elapsed_ms',
  'response_time_ms',
  'responseTime',
  'took',
  'time_ms',
];
const S_KEYS = ['request_time', 'duration_s', 'elapsed_s', 'upstream_response_time'];
const AMBIGUOUS_KEYS = ['duration', 'latency', 'elapsed', 'response_time'];
const PATH_KEYS = [
  'path',
  'url',
  'uri',
  'endpoint',
  'route',
  'request_path',
  'http.path',
  'http.url',
  'req.url',
  'request_uri',
];
const METHOD_KEYS = ['method', 'http_method', 'request_method', 'http.method', 'req.method', 'verb'];

/** A request from a structured line's fields (JSON lines, logfmt), or null. */
export function requestFromFields(fields: Record<string, unknown>): ApiRequest | null {
  const status = Number(firstOf(fields, STATUS_KEYS));
  if (!Number.isInteger(status) || status < 100 || status > 599) return null;
  let durationMs: number | null = null;
  const ms = firstOf(fields, MS_KEYS);
  const s = firstOf(fields, S_KEYS);
  const other = firstOf(fields, AMBIGUOUS_KEYS);
  if (ms !== undefined) durationMs = Number(ms);
  else if (s !== undefined) durationMs = Number(s) * 1000;
  else if (other !== undefined) durationMs = durationFromText(String(other));
  const path = firstOf(fields, PATH_KEYS);
  const method = firstOf(fields, METHOD_KEYS);
  return {
    method: typeof method === 'string' ? method.toUpperCase() : null,
    path: typeof path === 'string' ? path : null,
    status,
    durationMs: finite(durationMs),
  };
}

/** `245ms`, `1.5s`, `0.25` (a bare number under `duration` is taken as milliseconds). */
export function durationFromText(text: string): number | null {
  const m = /^\s*([\d.]+)\s*(ns|us|µs|ms|s|min|m|h)?\s*$/.exec(text);
  if (!m) return null;
  const scale: Record<string, number> = { ...UNIT_MS, m: 60000, min: 60000, h: 3600000 };
  return Number(m[1]) * (scale[m[2] ?? 'ms'] ?? 1);
}

/**
 * An access-log line's request: the status from its place, the request time from what follows
 * the byte count (`rt=0.123`, `request_time=...`; a bare decimal is nginx's seconds, a bare
 * integer Apache's %D microseconds).
 */
export function requestFromAccess(fields: Record<string, unknown>): ApiRequest | null {
  const status = Number(fields.status);
  if (!Number.isInteger(status)) return null;
  const [method, path] = String(fields.request ?? '').split(' ');
  const rest = String(fields.rest ?? '').replace(/"[^"]*"/g, ' ');
  let durationMs: number | null = null;
  const keyed = /\b(?:rt|request_time|upstream_response_time|urt|rtime)=([\d.]+)/.exec(rest);
  if (keyed) durationMs = Number(keyed[1]) * 1000;
  else {
    const bare = /(?:^|\s)(\d+(?:\.\d+)?)(ms)?\s*$/.exec(rest.trimEnd());
    if (bare)
      durationMs = bare[2]
        ? Number(bare[1])
        : (bare[1] ?? '').includes('.')
          ? Number(bare[1]) * 1000
          : Number(bare[1]) / 1000;
  }
  return {
    method: method && /^[A-Z]+$/.test(method) ? method : null,
    path: path ?? null,
    status,
    durationMs: finite(durationMs),
  };
}

/** `/users/123/orders/9f8e...` -> `/users/{id}/orders/{id}`: ids, numbers, UUIDs and hashes folded. */
export function endpointOf(method: string | null, path: string | null): string {
  let clean = path ?? '';
  if (clean.charCodeAt(0) !== 47) clean = clean.replace(/^https?:\/\/[^/]+/, '');
  // Up to the query or fragment, whichever comes first.
  const query = clean.indexOf('?');
  const fragment = clean.indexOf('#');
  const end = query < 0 ? fragment : fragment < 0 ? query : Math.min(query, fragment);
  if (end >= 0) clean = clean.slice(0, end);
  // Segment by segment, the path kept as it is up to the first segment that folds.
  let folded = '';
  let kept = 0;
  const length = clean.length;
  for (let from = 0; from <= length; ) {
    let to = clean.indexOf('/', from);
    if (to < 0) to = length;
    if (foldsAt(clean, from, to)) {
      folded += `${clean.slice(kept, from)}{id}`;
      kept = to;
    }
    from = to + 1;
  }
  if (kept > 0) folded += clean.slice(kept);
  else folded = clean;
  const endpoint = `${method ?? '*'} ${folded || '/'}`;
  // Read once, which makes V8 flatten the joined text: hashing and comparing it as a map key
  // would otherwise walk its pieces each time.
  endpoint.charCodeAt(0);
  return endpoint;
}

/** Whether the segment `path[from, to)` is an id (a number, a UUID, a hash or a token). */
function foldsAt(path: string, from: number, to: number): boolean {
  // Most segments are words or numbers: every pattern below needs a digit but the UUID, which
  // needs a `-`, and a number is an id. Only the rest are tried against them.
  let digits = 0;
  let dash = false;
  for (let i = from; i < to; i++) {
    const c = path.charCodeAt(i);
    if (c >= 48 && c <= 57) digits += 1;
    else if (c === 45) dash = true;
  }
  if (digits === 0 && !dash) return false;
  if (digits === to - from) return true;
  const segment = path.slice(from, to);
  return (
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(segment) ||
    /^(?=.*\d)[0-9a-f]{8,}$/i.test(segment) ||
    /^(?=.*\d)(?=.*[a-z])[\w-]{16,}$/i.test(segment)
  );
}

export type StatusClass =
  | 'success'
  | 'redirect'
  | 'clientError'
  | 'rateLimited'
  | 'serverError'
  | 'informational';

export function statusClass(status: number): StatusClass {
  if (status === 429) return 'rateLimited';
  if (status >= 500) return 'serverError';
  if (status >= 400) return 'clientError';
  if (status >= 300) return 'redirect';
  if (status >= 200) return 'success';
  return 'informational';
}

export interface SlowExample {
  file: string;
  line: number;
  endpoint: string;
  status: number;
  durationMs: number;
}

/** Per-file API figures; plain data so they cross worker threads and merge by adding. */
export interface ApiTally {
  requests: number;
  statusCodes: Record<string, number>;
  durationSumMs: number;
  latency: [number, number][];
  latencyCount: number;
  latencyMax: number;
  slowCount: number;
  slowExamples: SlowExample[];
  byEndpoint: Record<
    string,
    {
      requests: number;
      errors: number;
      durationSumMs: number;
      latency: [number, number][];
      latencyCount: number;
      latencyMax: number;
    }
  >;
}

export const MAX_SLOW_EXAMPLES = 5;
/** Endpoints kept per file: beyond this, requests are counted under `(other)`. */
export const MAX_ENDPOINTS = 500;

export class ApiCounter {
  requests = 0;
  readonly statusCodes: Record<string, number> = {};
  durationSumMs = 0;
  readonly latency = new LatencySketch();
  slowCount = 0;
  readonly slowExamples: SlowExample[] = [];
  readonly endpoints = new Map<
    string,
    { requests: number; errors: number; durationSumMs: number; latency: LatencySketch }
  >();

  constructor(readonly slowMs: number) {}

  add(request: ApiRequest, file: string, line: number): void {
    this.requests += 1;
    const code = String(request.status);
    this.statusCodes[code] = (this.statusCodes[code] ?? 0) + 1;
    let endpoint = endpointOf(request.method, request.path);
    let e = this.endpoints.get(endpoint);
    if (!e) {
      if (this.endpoints.size >= MAX_ENDPOINTS) {
        endpoint = '(other)';
        e = this.endpoints.get(endpoint);
      }
      if (!e) {
        e = { requests: 0, errors: 0, durationSumMs: 0, latency: new LatencySketch() };
        this.endpoints.set(endpoint, e);
      }
    }
    e.requests += 1;
    if (request.status >= 500) e.errors += 1;
    if (request.durationMs !== null) {
      const bin = LatencySketch.binOf(request.durationMs);
      this.latency.acceptIn(bin, request.durationMs);
      this.durationSumMs += request.durationMs;
      e.latency.acceptIn(bin, request.durationMs);
      e.durationSumMs += request.durationMs;
      if (request.durationMs >= this.slowMs) {
        this.slowCount += 1;
        if (this.slowExamples.length < MAX_SLOW_EXAMPLES)
          this.slowExamples.push({
            file,
            line,
            endpoint,
            status: request.status,
            durationMs: request.durationMs,
          });
      }
    }
  }

  /** Adds the tally of requests that came after this counter's (a later part of the same file). */
  addTally(t: ApiTally): void {
    this.requests += t.requests;
    for (const [code, n] of Object.entries(t.statusCodes))
      this.statusCodes[code] = (this.statusCodes[code] ?? 0) + n;
    this.durationSumMs += t.durationSumMs;
    this.latency.merge(sketchOf(t.latency, t.latencyMax));
    this.slowCount += t.slowCount;
    for (const e of t.slowExamples)
      if (this.slowExamples.length < MAX_SLOW_EXAMPLES) this.slowExamples.push(e);
    for (const [name, e] of Object.entries(t.byEndpoint)) {
      // Still at most MAX_ENDPOINTS (which of them past the cap may differ from one pass's).
      const key = this.endpoints.has(name) || this.endpoints.size < MAX_ENDPOINTS ? name : '(other)';
      let at = this.endpoints.get(key);
      if (!at) {
        at = { requests: 0, errors: 0, durationSumMs: 0, latency: new LatencySketch() };
        this.endpoints.set(key, at);
      }
      at.requests += e.requests;
      at.errors += e.errors;
      at.durationSumMs += e.durationSumMs;
      at.latency.merge(sketchOf(e.latency, e.latencyMax));
    }
  }

  toData(): ApiTally {
    const byEndpoint: ApiTally['byEndpoint'] = {};
    for (const [key, e] of this.endpoints) {
      byEndpoint[key] = {
        requests: e.requests,
        errors: e.errors,
        durationSumMs: e.durationSumMs,
        latency: [...e.latency.bins],
        latencyCount: e.latency.count,
        latencyMax: e.latency.max,
      };
    }
    return {
      requests: this.requests,
      statusCodes: this.statusCodes,
      durationSumMs: this.durationSumMs,
      latency: [...this.latency.bins],
      latencyCount: this.latency.count,
      latencyMax: this.latency.max,
      slowCount: this.slowCount,
      slowExamples: this.slowExamples,
      byEndpoint,
    };
  }
}

export function sketchOf(bins: [number, number][], max: number): LatencySketch {
  const sketch = new LatencySketch();
  for (const [key, count] of bins) sketch.addBin(key, count);
  sketch.max = max;
  return sketch;
}
