// Retry delays: exponential backoff with full jitter, never shorter than the server asked for.

export interface BackoffOptions {
  /** Delay ceiling for the first retry, in ms; doubles each attempt. */
  baseMs: number;
  /** Upper bound on any delay, in ms. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 60_000 };

/** Delay before attempt `attempt + 1` (attempt counts from 1), with `random` in [0, 1). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs !== undefined ? Math.max(jittered, retryAfterMs) : jittered;
}
