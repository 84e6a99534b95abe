// Retries for blob requests: full-jitter backoff, Retry-After honoured, a budget per operation, and counters.
import { ItemError } from '../../errors.js';
import { logRequest } from './logging.js';
import { redact } from './redact.js';

export interface RetryOptions {
  /** Tries per operation, the first included; then the item fails transiently and the engine takes over. */
  maxTries: number;
  /** Backoff before retry n (0-based) is random(0, min(capMs, baseMs * 2^n)). */
  baseMs: number;
  capMs: number;
  /** Longest one try may wait for a response, and the longest a download may go without a byte. */
  tryTimeoutMs: number;
  /** In [0, 1); `Math.random` unless a test fixes it. */
  random: () => number;
  /** Waits `ms`; rejects when `signal` aborts. Tests pass a recording or fast one. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxTries: 6,
  baseMs: 200,
  capMs: 30_000,
  tryTimeoutMs: 30_000,
  random: Math.random,
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const done = () => {
        signal?.removeEventListener('abort', stop);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const stop = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', stop, { once: true });
    }),
};

/** What the blob requests of this process met, for progress and for the governor. Cumulative. */
export interface RequestStats {
  /** HTTP tries sent: list pages, downloads, resumed downloads, probes. */
  requests: number;
  /** Tries repeated after a transient failure (each counted once, here, not by the SDK). */
  retries: number;
  /** 429 and 503 answers: the service pushing back. */
  throttled: number;
  /** Tries that hit the per-try timeout or stalled mid-download, plus 408 and 500 OperationTimedOut. */
  timeouts: number;
  /** Connections reset, refused or cut mid-body. */
  resets: number;
  /** List requests (one per page). */
  listCalls: number;
  /** Downloads continued from the byte reached after a failure mid-body. */
  resumes: number;
}

export const requestStats: RequestStats = {
  requests: 0,
  retries: 0,
  throttled: 0,
  timeouts: 0,
  resets: 0,
  listCalls: 0,
  resumes: 0,
};

/** One HTTP try as the adaptive concurrency needs it: how long it took and whether the service pushed back. */
export interface RequestObservation {
  rttMs: number;
  outcome: 'ok' | 'throttled' | 'timeout' | 'error';
  retryAfterMs?: number;
  /** What the service said, e.g. `503 ServerBusy`. */
  status?: string;
}

const observers = new Set<(o: RequestObservation) => void>();

/** Calls `listener` after every try of every request in this process; returns the unsubscribe function. */
export function observeRequests(listener: (o: RequestObservation) => void): () => void {
  observers.add(listener);
  return () => observers.delete(listener);
}

/** Reports a try of `what` that answered (`failure` undefined) or failed. */
export function reportTry(startedAt: number, what: string, failure?: Failure): void {
  const rttMs = Date.now() - startedAt;
  logRequest(what, rttMs, failure ? `${describeFailure(failure)} (${failure.kind})` : 'ok');
  if (observers.size === 0) return;
  const o: RequestObservation = { rttMs, outcome: 'ok' };
  if (failure) {
    o.outcome = failure.kind === 'throttled' ? 'throttled' : failure.kind === 'timeout' ? 'timeout' : 'error';
    if (failure.retryAfterMs !== undefined) o.retryAfterMs = failure.retryAfterMs;
    const status = [failure.status, failure.code].filter((v) => v !== undefined).join(' ');
    if (status) o.status = status;
  }
  for (const listener of observers) listener(o);
}

export function resetRequestStats(): void {
  for (const key of Object.keys(requestStats) as (keyof RequestStats)[]) requestStats[key] = 0;
}

/** Full jitter (AWS "Exponential Backoff and Jitter"): spreads retries so throttled clients do not stampede. */
export function backoffMs(retry: number, options: Pick<RetryOptions, 'baseMs' | 'capMs' | 'random'>): number {
  return Math.floor(options.random() * Math.min(options.capMs, options.baseMs * 2 ** retry));
}

interface HeaderBag {
  get(name: string): string | undefined | null;
}

/** The server's own wait hint: `x-ms-retry-after-ms`, or `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(headers: HeaderBag | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('x-ms-retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Longest server-requested wait honoured; beyond it the engine's per-item attempts are the better place. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

export type FailureKind = 'throttled' | 'timeout' | 'reset' | 'server' | 'permanent';

export interface Failure {
  kind: FailureKind;
  retryable: boolean;
  status?: number;
  /** Storage error code (`ServerBusy`, `ContainerNotFound`) or network code (`ECONNRESET`). */
  code?: string;
  retryAfterMs?: number;
  /** Redacted, one line. */
  message: string;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'REQUEST_SEND_ERROR',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  // A list response cut mid-XML fails to parse; the request is worth repeating.
  'PARSE_ERROR',
]);

// Messages of stream failures that carry no code: a body cut short, a socket closed under us.
const CUT_SHORT_RE =
  /socket hang up|aborted|premature close|received less data than required|ECONNRESET|EPIPE/i;

interface ErrorShape {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string };
  response?: { headers?: HeaderBag };
}

/** Decides whether a failed try is worth repeating and how to count it. `timedOut`: our own timer fired. */
export function classifyFailure(error: unknown, timedOut = false): Failure {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ErrorShape;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = e.response?.headers?.get('x-ms-error-code') ?? e.details?.errorCode ?? e.code ?? undefined;
  const after = retryAfterMs(e.response?.headers);
  const message = oneLine(e.message ?? String(error));
  const base = {
    status,
    code,
    message,
    retryAfterMs: after === undefined ? undefined : Math.min(after, MAX_RETRY_AFTER_MS),
  };
  if (timedOut) return { ...base, kind: 'timeout', retryable: true };
  if (status !== undefined && status > 0) {
    if (status === 429 || status === 503) return { ...base, kind: 'throttled', retryable: true };
    if (status === 408 || (status === 500 && code === 'OperationTimedOut'))
      return { ...base, kind: 'timeout', retryable: true };
    if (status === 500 || status === 502 || status === 504)
      return { ...base, kind: 'server', retryable: true };
    return { ...base, kind: 'permanent', retryable: false };
  }
  if ((code && NETWORK_CODES.has(code)) || e.name === 'AbortError' || CUT_SHORT_RE.test(message)) {
    // An AbortError we did not ask for is the SDK reporting a response that was cut off.
    return { ...base, kind: 'reset', retryable: true };
  }
  return { ...base, kind: 'permanent', retryable: false };
}

function oneLine(text: string): string {
  // Storage messages end in RequestId/Time lines; the first line says what happened.
  return redact(text.split('\n')[0]?.trim() ?? '');
}

function count(failure: Failure): void {
  if (failure.kind === 'throttled') requestStats.throttled++;
  else if (failure.kind === 'timeout') requestStats.timeouts++;
  else if (failure.kind === 'reset') requestStats.resets++;
}

/** Describes a failure for a message: `503 ServerBusy: Operations per second...`. */
export function describeFailure(failure: Failure): string {
  const head = [failure.status, failure.code].filter((v) => v !== undefined).join(' ');
  return head ? `${head}: ${failure.message}` : failure.message;
}

/**
 * The retry budget of one operation. `failed` counts the failure, then either waits the backoff (and the
 * server's Retry-After, whichever is longer) or throws: the original error when it is not transient, an
 * `ItemError(transient)` when the budget is spent. `progressed` refills the budget after useful work, so a
 * long download that keeps moving is not failed for resets spread over its length.
 */
export class RetryBudget {
  private failures = 0;
  last?: Failure;

  constructor(
    private readonly what: string,
    private readonly options: RetryOptions,
    private readonly signal?: AbortSignal,
  ) {}

  progressed(): void {
    this.failures = 0;
  }

  async failed(error: unknown, timedOut: boolean): Promise<Failure> {
    if (this.signal?.aborted) throw this.signal.reason ?? error;
    const failure = classifyFailure(error, timedOut);
    this.last = failure;
    count(failure);
    if (!failure.retryable) throw error;
    this.failures++;
    if (this.failures >= this.options.maxTries) {
      throw new ItemError(
        `${this.what}: gave up after ${this.failures} tries in a row; last: ${describeFailure(failure)}`,
        true,
        failure.retryAfterMs,
      );
    }
    requestStats.retries++;
    const wait = Math.max(backoffMs(this.failures - 1, this.options), failure.retryAfterMs ?? 0);
    await this.options.sleep(wait, this.signal);
    return failure;
  }
}

/** One try under the per-try timeout; `timedOut()` tells a timeout apart from other aborts afterwards. */
export class TryTimer {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private fired = false;
  private ended = false;
  private readonly onOuterAbort = () => this.controller.abort();

  constructor(
    private readonly ms: number,
    private readonly outer?: AbortSignal,
  ) {
    outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.restart();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  timedOut(): boolean {
    return this.fired;
  }

  /** Starts the clock again: called when a download makes progress, so only a stall times out. */
  restart(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error(`no response within ${this.ms} ms`));
    }, this.ms);
  }

  pause(): void {
    clearTimeout(this.timer);
  }

  /**
   * Ends the try: stops the clock and, when `abort`, cancels whatever the try still has open. A
   * try that already ended has nothing open: aborting it again would only cost an exception
   * object and a round of abort listeners, once per blob.
   */
  finish(abort = false): void {
    clearTimeout(this.timer);
    if (this.ended) return;
    this.ended = true;
    this.outer?.removeEventListener('abort', this.onOuterAbort);
    if (abort && !this.controller.signal.aborted) this.controller.abort();
  }
}

export interface RetryCall {
  what: string;
  options: RetryOptions;
  signal?: AbortSignal;
  /** Counts each try as a list request too. */
  isList?: boolean;
}

/** Runs `attempt` until it succeeds, fails permanently, or spends the budget (see `RetryBudget`). */
export async function withRetry<T>(
  call: RetryCall,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const budget = new RetryBudget(call.what, call.options, call.signal);
  for (;;) {
    if (call.signal?.aborted) throw call.signal.reason;
    requestStats.requests++;
    if (call.isList) requestStats.listCalls++;
    const timer = new TryTimer(call.options.tryTimeoutMs, call.signal);
    const startedAt = Date.now();
    try {
      const result = await attempt(timer.signal);
      reportTry(startedAt, call.what);
      return result;
    } catch (error) {
      timer.finish();
      reportTry(startedAt, call.what, classifyFailure(error, timer.timedOut()));
      await budget.failed(error, timer.timedOut());
    } finally {
      timer.finish();
    }
  }
}
