// Time as the engine sees it: passed in, so tests drive the loop on a fake clock without sleeping.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `fn` after `ms`. `keepAlive` timers keep the process running while they wait (the loop's
   * own naps); the others (heartbeats, progress ticks, grace periods) do not.
   */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): unknown;
  clearTimeout(timer: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms, keepAlive = false) {
    const timer = setTimeout(fn, ms);
    if (!keepAlive) timer.unref();
    return timer;
  },
  clearTimeout(timer) {
    clearTimeout(timer as NodeJS.Timeout);
  },
};

/** Calls `tick` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, tick: () => void): () => void {
  let timer: unknown;
  let stopped = false;
  const arm = () => {
    timer = clock.setTimeout(() => {
      if (stopped) return;
      tick();
      arm();
    }, ms);
  };
  arm();
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}
