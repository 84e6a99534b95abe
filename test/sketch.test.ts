// Latency sketches: percentiles within 1 % of the exact value, and merging equals sketching the union.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Delta } from '../src/aggregate/delta.js';
import { LatencySketch } from '../src/aggregate/sketch.js';

function exact(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** A deterministic heavy-tailed latency sample (ms). */
function sample(n: number, seed: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const u = (x + 1) / 2 ** 32;
    out.push(Math.round(20 + 800 * (-Math.log(u)) ** 1.7));
  }
  return out;
}

describe('latency sketch', () => {
  it('answers p50, p95, p99 within 1 % relative error of the exact lower nearest rank', () => {
    const values = sample(50_000, 7);
    const sketch = new LatencySketch();
    for (const v of values) sketch.accept(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const got = sketch.quantile(q) as number;
      const want = exact(sorted, q);
      assert.ok(Math.abs(got - want) <= want * 0.01, `q=${q}: got ${got}, exact ${want}`);
    }
    assert.equal(sketch.max, sorted.at(-1));
  });

  it('handles zero durations', () => {
    const sketch = new LatencySketch();
    for (const v of [0, 0, 0, 5]) sketch.accept(v);
    assert.equal(sketch.quantile(0.5), 0);
    assert.equal(sketch.count, 4);
  });

  it('is empty until it sees a value', () => {
    assert.equal(new LatencySketch().quantile(0.5), null);
  });

  it('merged deltas give the same bins as one delta over all values, in any order', () => {
    const values = sample(5000, 3);
    const one = new Delta();
    for (const v of values) one.sketch('s').accept(v);
    const parts = [new Delta(), new Delta(), new Delta()];
    for (const [i, v] of values.entries()) parts[i % 3]?.sketch('s').accept(v);
    const merged = new Delta()
      .merge(parts[2] as Delta)
      .merge(parts[0] as Delta)
      .merge(parts[1] as Delta);
    const bins = (d: Delta) => [...(d.latency.get('s')?.bins ?? [])].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(bins(merged), bins(one));
    assert.equal(merged.latency.get('s')?.max, one.latency.get('s')?.max);
  });

  it('survives the plain-data round trip used between threads and stores', () => {
    const d = new Delta();
    d.count('["records"]', 3);
    for (const v of [1, 10, 100]) d.sketch('s').accept(v);
    d.observeBound('time', 'a', 'A');
    d.observeBound('time', 'c', 'C');
    const back = Delta.fromData(JSON.parse(JSON.stringify(d.toData())));
    assert.deepEqual(back.toData(), d.toData());
  });
});
