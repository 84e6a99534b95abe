// The heap setting an ingest applies: it keeps V8's heap near the live size, and it gives way to
// a value the user chose.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { tightenHeap } from '../src/engine/heap.js';

const churn = (...args: string[]) =>
  (
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', 'test/support/heap-churn.ts', ...args], {
        encoding: 'utf8',
      }),
    ) as { peakHeap: number }
  ).peakHeap;

describe('heap', () => {
  it('holds a churning process to a much smaller heap than V8 would by default', () => {
    const loose = churn();
    const tight = churn('tighten');
    assert.ok(tight < 0.85 * loose, `peak heap ${tight} bytes tightened vs ${loose} by default`);
  });

  it('leaves the growth alone when the user gave node a value', () => {
    assert.equal(tightenHeap(['--heap-growing-percent=100']), false);
    assert.equal(tightenHeap(['--max-old-space-size=512', '--heap_growing_percent=80']), false);
    assert.equal(tightenHeap(['--max-old-space-size=512']), true);
  });
});
