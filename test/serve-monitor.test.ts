// What `serve` computes from a store between reads: rate and ETA over a window of done counts (on
// a fake clock), change events only when something changed, and the concurrency decisions.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { concurrencyChange, currentConcurrency, Monitor, type Snapshot } from '../src/serve/monitor.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';

const JOB = 'paced';
const OWNER = 'w1';

async function commitOne(store: Store): Promise<void> {
  const [item] = await store.leaseItems(JOB, OWNER, 1, 60_000);
  assert.ok(item);
  const at = Date.now();
  await store.commitResults(JOB, OWNER, [
    {
      items: [
        {
          id: item.id,
          fence: item.fence,
          checkpoint: null,
          covered: 1,
          records: 1,
          bytes: 1,
          startedAt: at,
          finishedAt: at,
        },
      ],
    },
  ]);
}

describe('serve monitor', () => {
  let dir: string;
  let store: Store;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sluice-monitor-'));
    store = await openStore(path.join(dir, 'sluice.db'));
    await store.openJob({ name: JOB, source: 'file:/x', task: 'azure-logs', filters: {} });
    await store.addItems(
      JOB,
      Array.from({ length: 30 }, (_, i) => ({ id: `i${String(i).padStart(2, '0')}`, size: 1 })),
    );
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('measures the rate over its window on its clock, and the ETA of what is left at that rate', async () => {
    let now = 1_000_000;
    const monitor = new Monitor(store, { now: () => now, rateWindowMs: 60_000 });
    const changes: Snapshot[] = [];
    monitor.on('change', (s) => changes.push(s));
    const first = (await monitor.refresh()).jobs[0];
    assert.equal(first?.rate, null, 'one reading is no rate');
    assert.equal(first?.etaSeconds, null);
    for (let i = 0; i < 10; i++) await commitOne(store);
    now += 10_000; // 10 items in 10 s
    const second = (await monitor.refresh()).jobs[0];
    assert.equal(second?.rate, 1);
    assert.equal(second?.etaSeconds, 20);
    assert.equal(changes.length, 2);
    await monitor.refresh();
    assert.equal(changes.length, 2, 'a read that finds nothing new is no event');
    // The window forgets readings older than a minute: the rate is the recent one.
    now += 120_000;
    await monitor.refresh();
    for (let i = 0; i < 5; i++) await commitOne(store);
    now += 10_000;
    const late = (await monitor.refresh()).jobs[0];
    assert.equal(late?.rate, 0.5);
    assert.equal(late?.etaSeconds, 30);
  });

  it("reads the limit of the newest decision, the governor's or the child gate's", () => {
    assert.deepEqual(concurrencyChange('concurrency 64 -> 44: 503 ServerBusy x3'), { from: 64, to: 44 });
    assert.deepEqual(concurrencyChange('children 8 -> 6: memory 81 % > 75 %'), { from: 8, to: 6 });
    assert.equal(concurrencyChange('i07 given back: memory'), null);
    const events = [
      { run: 2, at: 3, message: 'i07 given back: memory' },
      { run: 2, at: 2, message: 'children 4 -> 3: spawn failed (EAGAIN)' },
      { run: 1, at: 1, message: 'concurrency 1 -> 4: latency holds' },
    ];
    assert.equal(currentConcurrency(events), 3);
    assert.equal(currentConcurrency([]), null);
  });
});
