// A smoothed rate and an ETA that does not swing wildly in a run's first seconds.

export class RateEstimator {
  private rate: number | null = null;
  private lastAt: number | null = null;
  private lastValue = 0;
  private readonly startedAt: number;

  /**
   * @param now the clock (ms)
   * @param halfLifeMs how quickly the rate follows changes: after this long an old rate weighs half
   * @param warmupMs no ETA before this much time has passed (early rates mislead)
   */
  constructor(
    now: number,
    private readonly halfLifeMs = 10_000,
    private readonly warmupMs = 3_000,
  ) {
    this.startedAt = now;
    this.lastAt = now;
  }

  /** Feeds the cumulative amount done so far (bytes, items) at time `now`. */
  update(now: number, cumulative: number): void {
    const dt = now - (this.lastAt ?? now);
    if (dt <= 0) return;
    const instant = ((cumulative - this.lastValue) * 1000) / dt;
    const weight = 1 - 0.5 ** (dt / this.halfLifeMs);
    this.rate = this.rate === null ? instant : this.rate + weight * (instant - this.rate);
    this.lastAt = now;
    this.lastValue = cumulative;
  }

  /** Units per second, smoothed; 0 before the first update. */
  get perSecond(): number {
    return this.rate ?? 0;
  }

  /** Seconds left for `remaining` units, or null while warming up or stalled. */
  eta(now: number, remaining: number): number | null {
    if (now - this.startedAt < this.warmupMs || !this.rate || this.rate <= 0) return null;
    return remaining / this.rate;
  }
}
