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
  constructor(
    message: string,
    readonly transient: boolean,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const EXIT = {
  ok: 0,
  failedItems: 1,
  usage: 2,
  interrupted: 130,
} as const;
