// Reads a failed call the way the governor needs it: push-back (429/503, timeouts) or a plain error.
// Duck-typed, so Azure's RestError, fetch errors, our ItemError (and whatever they wrap) all read.
import type { Outcome } from './controller.js';

export interface Verdict {
  outcome: Exclude<Outcome, 'ok'>;
  retryAfterMs?: number;
  /** What the service said, e.g. `503 ServerBusy`. */
  status?: string;
}

const THROTTLED = new Set([429, 503]);
const TIMED_OUT = new Set([408, 504]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'OperationTimedOut',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** Classifies `error`, looking through its `cause` chain for a status code or a timeout. */
export function classifyFailure(error: unknown, now: number = Date.now()): Verdict {
  for (let e: unknown = error, depth = 0; isObject(e) && depth < 5; e = e.cause, depth++) {
    const status =
      typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : undefined;
    const code = typeof e.code === 'string' ? e.code : undefined;
    const label = status === undefined ? code : code === undefined ? `${status}` : `${status} ${code}`;
    const retryAfterMs = readRetryAfter(e, now);
    if (status !== undefined && THROTTLED.has(status)) return verdict('throttled', label, retryAfterMs);
    if (
      e.name === 'TimeoutError' ||
      (status !== undefined && TIMED_OUT.has(status)) ||
      TIMEOUT_CODES.has(code ?? '')
    ) {
      return verdict('timeout', label ?? 'timeout', retryAfterMs);
    }
    // A server that asks us to wait is pushing back, whatever else the error says.
    if (retryAfterMs !== undefined) return verdict('throttled', label, retryAfterMs);
  }
  return { outcome: 'error' };
}

function verdict(
  outcome: Verdict['outcome'],
  status: string | undefined,
  retryAfterMs: number | undefined,
): Verdict {
  const v: Verdict = { outcome };
  if (status !== undefined) v.status = status;
  if (retryAfterMs !== undefined) v.retryAfterMs = retryAfterMs;
  return v;
}

/** `retryAfterMs` (ItemError), else the response's `retry-after-ms`, `x-ms-retry-after-ms` or `retry-after`. */
function readRetryAfter(e: Record<string, unknown>, now: number): number | undefined {
  if (typeof e.retryAfterMs === 'number' && e.retryAfterMs >= 0) return e.retryAfterMs;
  const response = isObject(e.response) ? e.response : undefined;
  const headers = response?.headers ?? e.headers;
  const header = (name: string): string | undefined => {
    if (!isObject(headers)) return undefined;
    const value = typeof headers.get === 'function' ? headers.get(name) : headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(header(name));
    if (header(name) !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  }
  const text = header('retry-after');
  if (text === undefined) return undefined;
  // Retry-After is delay-seconds or an HTTP date.
  const seconds = Number(text);
  if (text.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
