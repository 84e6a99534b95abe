// Errors as values the user can act on. The CLI maps them to exit codes (DESIGN.md contracts).

/** Bad usage or input: what is wrong, where, and what to do. Exit code 2, no stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A failure of one item. `transient` failures (throttling, timeouts, resets) are retried with
 * backoff; permanent ones (unreadable file, blob gone) fail the item after its attempts run out.
 * `retryAfterMs` is the server's own hint (Retry-After), honoured when present.
 */
export class ItemError extends Error {
  override readonly name = 'ItemError';
  /** What the failed attempt still produced (a command's exit code and where its output went). */
  detail?: { result?: unknown; metrics?: Record<string, number> };
  constructor(
    message: string,
    readonly transient: boolean,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An item given back untouched, no attempt used: e.g. its child was stopped to spare the host's memory. */
export class ItemRequeued extends Error {
  override readonly name = 'ItemRequeued';
}

export const EXIT = {
  ok: 0,
  failedItems: 1,
  usage: 2,
  /** Stopped by an error outside the items (the store, its disk, the database): state saved. */
  storeFailed: 3,
  interrupted: 130,
} as const;
