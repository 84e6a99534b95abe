// A mergeable aggregate delta: what one item (or a batch of items) adds to a job's totals.
// Counters add, latency sketches add bin by bin, bounds keep the extremes: so deltas can be
// committed in any order, in batches, by any machine, and the sum is the same.
import { LatencySketch } from './sketch.js';

/** A lower/upper extreme, ordered by `key` (a sortable string), reported as `text`. */
export interface Bound {
  key: string;
  text: string;
}

export interface Bounds {
  min: Bound;
  max: Bound;
}

/** Plain-data form of a Delta: crosses worker threads and JSON unchanged. */
export interface DeltaData {
  counters: [string, number][];
  latency: [string, { bins: [number, number][]; max: number }][];
  bounds: [string, Bounds][];
}

/** Counter and sketch keys are JSON arrays of dimension values: unambiguous and readable. */
export function dimKey(...parts: (string | number | null)[]): string {
  return JSON.stringify(parts);
}

export function parseDimKey(key: string): (string | number | null)[] {
  return JSON.parse(key) as (string | number | null)[];
}

export class Delta {
  readonly counters = new Map<string, number>();
  readonly latency = new Map<string, LatencySketch>();
  readonly bounds = new Map<string, Bounds>();

  count(key: string, n = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  /** The latency sketch for a scope, created empty on first use. */
  sketch(scope: string): LatencySketch {
    let sketch = this.latency.get(scope);
    if (!sketch) {
      sketch = new LatencySketch();
      this.latency.set(scope, sketch);
    }
    return sketch;
  }

  observeBound(name: string, key: string, text: string): void {
    const bounds = this.bounds.get(name);
    if (!bounds) {
      this.bounds.set(name, { min: { key, text }, max: { key, text } });
      return;
    }
    if (key < bounds.min.key) bounds.min = { key, text };
    if (key > bounds.max.key) bounds.max = { key, text };
  }

  merge(other: Delta): this {
    for (const [key, n] of other.counters) this.count(key, n);
    for (const [scope, sketch] of other.latency) this.sketch(scope).merge(sketch);
    for (const [name, b] of other.bounds) {
      this.observeBound(name, b.min.key, b.min.text);
      this.observeBound(name, b.max.key, b.max.text);
    }
    return this;
  }

  get isEmpty(): boolean {
    return this.counters.size === 0 && this.latency.size === 0 && this.bounds.size === 0;
  }

  toData(): DeltaData {
    return {
      counters: [...this.counters],
      latency: [...this.latency].map(([scope, s]) => [scope, { bins: [...s.bins], max: s.max }]),
      bounds: [...this.bounds],
    };
  }

  static fromData(data: DeltaData): Delta {
    const delta = new Delta();
    for (const [key, n] of data.counters) delta.count(key, n);
    for (const [scope, s] of data.latency) {
      const sketch = delta.sketch(scope);
      for (const [bin, n] of s.bins) sketch.addBin(bin, n);
      sketch.max = s.max;
    }
    for (const [name, b] of data.bounds) delta.bounds.set(name, { min: { ...b.min }, max: { ...b.max } });
    return delta;
  }
}
