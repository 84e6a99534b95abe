// The governor's mechanism: an async semaphore whose limit can change while work runs.
// Lowering the limit never stops running work; it only holds back new starts until enough finish.

/** Gives the slot back. Calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  grant(): void;
}

export class Limiter {
  #limit: number;
  #inFlight = 0;
  // A Set keeps arrival order and lets an aborted waiter leave in O(1).
  readonly #waiters = new Set<Waiter>();

  constructor(limit: number) {
    this.#limit = checkLimit(limit);
  }

  get limit(): number {
    return this.#limit;
  }

  /** Slots held now; above `limit` for a while after it was lowered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiters.size;
  }

  setLimit(limit: number): void {
    this.#limit = checkLimit(limit);
    this.#grant();
  }

  /**
   * Resolves with a release function once a slot is free, first come first served. Rejects with
   * `signal.reason` if the signal aborts first; the caller then holds no slot.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiters.size === 0 && this.#inFlight < this.#limit) {
      this.#inFlight += 1;
      return Promise.resolve(this.#releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#releaser());
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight -= 1;
      this.#grant();
    };
  }

  #grant(): void {
    for (const waiter of this.#waiters) {
      if (this.#inFlight >= this.#limit) return;
      this.#waiters.delete(waiter);
      this.#inFlight += 1;
      waiter.grant();
    }
  }
}

function checkLimit(limit: number): number {
  if (!(Number.isInteger(limit) && limit >= 1)) {
    throw new RangeError(`a concurrency limit must be a whole number >= 1, got ${limit}`);
  }
  return limit;
}
