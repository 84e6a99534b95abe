// Latency sketch: DDSketch's logarithmic bins (1 % relative accuracy) kept as sparse,
// additive counts, so sketches merge by adding bin counts in any store with a plain upsert.
import { DDSketch } from '@datadog/sketches-js';

export const RELATIVE_ACCURACY = 0.01;

/** Bin key used for values too close to zero to map (the sketch's zero bucket). */
export const ZERO_BIN = -2147483648;

const mapping = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY }).mapping;

export class LatencySketch {
  /** bin key -> count */
  readonly bins = new Map<number, number>();
  count = 0;
  max = Number.NEGATIVE_INFINITY;

  accept(value: number): void {
    this.acceptIn(LatencySketch.binOf(value), value);
  }

  /** The bin a value falls in: the same in every sketch, so one value counted in several is binned once. */
  static binOf(value: number): number {
    return value > mapping.minPossible ? mapping.key(value) : ZERO_BIN;
  }

  /** Counts `value`, whose bin (`binOf`) is `bin`. */
  acceptIn(bin: number, value: number): void {
    this.bins.set(bin, (this.bins.get(bin) ?? 0) + 1);
    this.count += 1;
    if (value > this.max) this.max = value;
  }

  addBin(key: number, count: number): void {
    this.bins.set(key, (this.bins.get(key) ?? 0) + count);
    this.count += count;
  }

  merge(other: LatencySketch): void {
    for (const [key, count] of other.bins) this.addBin(key, count);
    if (other.max > this.max) this.max = other.max;
  }

  /**
   * Value at quantile q (0..1) within RELATIVE_ACCURACY of the exact lower nearest-rank
   * value (sorted[floor(q * (count - 1))]); null when empty. Capped at the exact max.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const sketch = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
    for (const [key, count] of this.bins) {
      if (key === ZERO_BIN) sketch.zeroCount += count;
      else sketch.store.add(key, count);
      sketch.count += count;
    }
    const value = sketch.getValueAtQuantile(q);
    return Math.min(value, this.max);
  }
}
