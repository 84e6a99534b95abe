// The store contract (src/store/types.ts), one set of tests run against every store: SQLite in a
// temporary file on a fake lease clock, PostgreSQL in a fresh database whose timestamps the test
// moves back to let time pass. SLUICE_STORES=postgres (or sqlite) runs one kind only.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Delta } from '../src/aggregate/delta.js';
import { UsageError } from '../src/errors.js';
import type { CommitUnit, ItemOutcome, JobSpec, LeasedItem, Store } from '../src/store/types.js';
import { createDatabase, type TestDatabase } from './support/postgres.js';

/** One store under test, and the means to let its lease clock run on. */
interface Harness {
  store: Store;
  /** Another store on the same data, as a second worker process would open it. */
  openAnother(): Promise<Store>;
  /** Lets `ms` pass on the store's clock. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

type Kind = 'sqlite' | 'postgres';

/** A harness from how a kind opens a store, lets time pass and cleans up; every store opened is closed. */
async function harness(
  open: () => Promise<Store>,
  advance: Harness['advance'],
  cleanUp: () => Promise<void>,
): Promise<Harness> {
  const opened: Store[] = [];
  const openAnother = async () => {
    const s = await open();
    opened.push(s);
    return s;
  };
  return {
    store: await openAnother(),
    openAnother,
    advance,
    close: async () => {
      for (const s of opened) await s.close();
      await cleanUp();
    },
  };
}

const KINDS: Record<Kind, () => Promise<Harness>> = {
  sqlite: async () => {
    const { SqliteStore } = await import('../src/store/sqlite/index.js');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-contract-'));
    let now = Date.now();
    return harness(
      async () => SqliteStore.open(path.join(dir, 'state.db'), { clock: () => now }),
      async (ms) => {
        now += ms;
      },
      () => rm(dir, { recursive: true, force: true }),
    );
  },
  postgres: async () => {
    const { PostgresStore } = await import('../src/store/postgres/index.js');
    const db: TestDatabase = await createDatabase();
    return harness(
      () => PostgresStore.open(db.url),
      // The database's clock cannot be moved: every time the store keeps moves back instead.
      async (ms) => {
        const back = `- $1 * interval '1 millisecond'`;
        await db.sql(
          `UPDATE sluice.items SET lease_expires = lease_expires ${back}, not_before = not_before ${back}`,
          [ms],
        );
        await db.sql(`UPDATE sluice.jobs SET lister_expires = lister_expires ${back}`, [ms]);
        await db.sql(
          `UPDATE sluice.workers SET last_seen = last_seen ${back}, started_at = started_at ${back}`,
          [ms],
        );
      },
      () => db.drop(),
    );
  },
};

const selected = (process.env.SLUICE_STORES ?? 'sqlite,postgres')
  .split(',')
  .filter((k) => k !== '') as Kind[];
for (const kind of selected) {
  if (!(kind in KINDS)) throw new Error(`SLUICE_STORES: unknown store kind "${kind}" (sqlite, postgres)`);
}

const JOB = 'j';
const SPEC: JobSpec = {
  name: JOB,
  source: 'file:/data',
  task: 'azure-logs',
  filters: { from: '2024-01-01' },
};
const TTL = 10_000;
const A = 'host-a/100/aaaa';
const B = 'host-b/200/bbbb';

function outcome(item: LeasedItem, records: number, extra: Partial<ItemOutcome> = {}): ItemOutcome {
  return {
    id: item.id,
    fence: item.fence,
    checkpoint: { offset: item.size },
    covered: item.size,
    records,
    bytes: item.size,
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_001_000,
    ...extra,
  };
}

/** A delta as a task would make it: a counter, a latency sketch, a bound, keyed by `n`. */
function deltaOf(n: number): Delta {
  const d = new Delta();
  d.count('["records"]', n);
  d.count(`["by",${n % 3}]`, 1);
  d.sketch('["all"]').accept(n * 7.5);
  d.observeBound('time', `2024-01-${String(1 + (n % 28)).padStart(2, '0')}`, `day ${n}`);
  return d;
}

function unit(item: LeasedItem, n: number): CommitUnit {
  return { items: [outcome(item, n)], delta: deltaOf(n) };
}

function items(n: number, size = 100): { id: string; size: number; payload: { row: number } }[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `item-${String(i).padStart(4, '0')}`,
    size,
    payload: { row: i },
  }));
}

/** A Delta as plain sorted data, to compare totals exactly. */
function plain(d: Delta) {
  const sortEntries = <T>(m: Iterable<[string, T]>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return {
    counters: sortEntries(d.counters),
    latency: sortEntries(d.latency).map(([k, s]) => [
      k,
      [...s.bins].sort((a, b) => a[0] - b[0]),
      s.max,
      s.count,
    ]),
    bounds: sortEntries(d.bounds),
  };
}

for (const kind of selected) {
  describe(`store contract: ${kind}`, () => {
    let h: Harness;
    let store: Store;

    beforeEach(async () => {
      h = await KINDS[kind]();
      store = h.store;
      await store.openJob(SPEC);
    });
    afterEach(async () => {
      await h.close();
    });

    describe('jobs', () => {
      it('resumes a job opened again with the same spec and refuses a different one', async () => {
        const again = await store.openJob(SPEC);
        assert.equal(again.name, JOB);
        assert.deepEqual(again.filters, SPEC.filters);
        assert.equal(again.listedAt, null);
        await assert.rejects(store.openJob({ ...SPEC, filters: { from: '2024-02-01' } }), UsageError);
        await assert.rejects(store.openJob({ ...SPEC, source: 'file:/other' }), UsageError);
        await store.openJob({ ...SPEC, name: 'k' });
        const runK = await store.startRun('k', A, Date.now());
        await store.endRun(runK, 'done', {}, Date.now());
        assert.deepEqual(
          (await store.listJobs()).map((j) => j.name),
          ['k', JOB],
          'the job run most recently comes first',
        );
      });
    });

    describe('addItems', () => {
      it('adds new items as pending with their payloads, and the cursor with them', async () => {
        const r = await store.addItems(JOB, items(3, 50), 'item-0002');
        assert.deepEqual(r, { added: 3, changed: 0, bytesAdded: 150 });
        assert.equal((await store.listJobs())[0]?.listCursor, 'item-0002');
        const again = await store.addItems(JOB, items(3, 50));
        assert.deepEqual(again, { added: 0, changed: 0, bytesAdded: 0 }, 'listed again: nothing new');
        const leased = await store.leaseItems(JOB, A, 10, TTL);
        assert.deepEqual(
          leased.map((i) => [i.id, i.size, i.payload, i.checkpoint, i.attempts]),
          [
            ['item-0000', 50, { row: 0 }, null, 0],
            ['item-0001', 50, { row: 1 }, null, 0],
            ['item-0002', 50, { row: 2 }, null, 0],
          ],
        );
        const s = await store.status(JOB);
        assert.deepEqual(s.items, { total: 3, pending: 0, leased: 3, done: 0, failed: 0 });
        assert.deepEqual(s.bytes, { total: 150, done: 0 });
      });

      it('makes a done item listed with another size or version pending again, its checkpoint kept', async () => {
        const listed = ['busy', 'grows', 'replaced', 'same', 'shrunk'].map((id) => ({
          id,
          size: 100,
          version: 'v1',
        }));
        await store.addItems(JOB, listed);
        const [busy, ...rest] = await store.leaseItems(JOB, A, 5, TTL);
        await store.commitResults(
          JOB,
          A,
          rest.map((i) => ({ items: [outcome(i, 1)] })),
        );

        const r = await store.addItems(JOB, [
          { id: 'busy', size: 500, version: 'v9' },
          { id: 'grows', size: 160, version: 'v1' },
          { id: 'replaced', size: 100, version: 'v2' },
          { id: 'same', size: 100, version: 'v1' },
          { id: 'shrunk', size: 40, version: 'v1' },
        ]);
        assert.deepEqual(r, { added: 0, changed: 3, bytesAdded: 400 + 60 - 60 });
        const again = await store.leaseItems(JOB, B, 10, TTL);
        assert.deepEqual(
          again.map((i) => [i.id, i.size, i.checkpoint, i.attempts]),
          [
            ['grows', 160, { offset: 100 }, 0],
            ['replaced', 100, { offset: 100 }, 0],
            ['shrunk', 40, { offset: 100 }, 0],
          ],
        );
        const records = await store.listItems(JOB, { limit: 10 });
        assert.deepEqual(
          records.map((i) => [i.id, i.state, i.size, i.version]),
          [
            ['busy', 'leased', 500, 'v9'],
            ['grows', 'leased', 160, 'v1'],
            ['replaced', 'leased', 100, 'v2'],
            ['same', 'done', 100, 'v1'],
            ['shrunk', 'leased', 40, 'v1'],
          ],
        );
        const held = await store.commitResults(JOB, A, [{ items: [outcome(busy as LeasedItem, 1)] }]);
        assert.equal(held.committed, 1, 'an item in hand keeps its lease when listed again');
      });
    });

    describe('leaseItems', () => {
      it('leases each claimable item to one owner, in id order, up to the limit', async () => {
        await store.addItems(JOB, items(5));
        const a = await store.leaseItems(JOB, A, 3, TTL);
        const b = await store.leaseItems(JOB, B, 10, TTL);
        assert.deepEqual(
          a.map((i) => i.id),
          ['item-0000', 'item-0001', 'item-0002'],
        );
        assert.deepEqual(
          b.map((i) => i.id),
          ['item-0003', 'item-0004'],
        );
        assert.deepEqual(await store.leaseItems(JOB, B, 10, TTL), []);
      });

      it('bumps the fencing token on every claim', async () => {
        await store.addItems(JOB, items(1));
        const [first] = await store.leaseItems(JOB, A, 1, TTL);
        await store.releaseItems(JOB, A, [{ id: 'item-0000', fence: (first as LeasedItem).fence }]);
        const [second] = await store.leaseItems(JOB, B, 1, TTL);
        assert.ok((second as LeasedItem).fence > (first as LeasedItem).fence);
        await h.advance(TTL + 1);
        const [third] = await store.leaseItems(JOB, A, 1, TTL);
        assert.ok((third as LeasedItem).fence > (second as LeasedItem).fence);
      });

      it('gives an expired lease to another worker while the first still runs; the first then loses it and commits nothing', async () => {
        await store.addItems(JOB, items(2));
        const workerB = await h.openAnother();
        const mine = await store.leaseItems(JOB, A, 2, TTL);
        assert.deepEqual(await workerB.leaseItems(JOB, B, 2, TTL), [], 'live leases are not taken');
        await h.advance(TTL - 1000);
        assert.deepEqual((await store.heartbeat(JOB, A, [mine[1] as LeasedItem], TTL)).lost, []);
        await h.advance(2000);
        const taken = await workerB.leaseItems(JOB, B, 2, TTL);
        assert.deepEqual(
          taken.map((i) => i.id),
          ['item-0000'],
          'only the lease that was not renewed expired',
        );

        const hb = await store.heartbeat(
          JOB,
          A,
          mine.map((i) => ({ id: i.id, fence: i.fence })),
          TTL,
        );
        assert.deepEqual(hb.lost, ['item-0000']);
        const stale = await store.commitResults(JOB, A, [
          unit(mine[0] as LeasedItem, 5),
          unit(mine[1] as LeasedItem, 7),
        ]);
        assert.deepEqual(stale, { committed: 1, rejected: ['item-0000'] });
        assert.deepEqual(
          plain(await store.aggregates(JOB)),
          plain(deltaOf(7)),
          'nothing of the stale unit was added',
        );

        const fresh = await workerB.commitResults(JOB, B, [unit(taken[0] as LeasedItem, 5)]);
        assert.deepEqual(fresh, { committed: 1, rejected: [] });
        assert.deepEqual(plain(await store.aggregates(JOB)), plain(deltaOf(7).merge(deltaOf(5))));
        const [record] = await store.listItems(JOB, { limit: 1 });
        assert.equal(record?.owner, B);
        assert.equal(record?.records, 5);
      });

      it('keeps a renewed lease from others', async () => {
        await store.addItems(JOB, items(1));
        const [item] = await store.leaseItems(JOB, A, 1, TTL);
        for (let i = 0; i < 3; i++) {
          await h.advance(TTL / 2);
          assert.deepEqual((await store.heartbeat(JOB, A, [item as LeasedItem], TTL)).lost, []);
        }
        assert.deepEqual(await store.leaseItems(JOB, B, 1, TTL), []);
        assert.equal((await store.workLeft(JOB)).leased, 1);
      });
    });

    describe('heartbeat', () => {
      it('names the items it no longer holds: taken over, released, or never leased to it', async () => {
        await store.addItems(JOB, items(3));
        const [a0, a1, a2] = await store.leaseItems(JOB, A, 3, TTL);
        await store.releaseItems(JOB, A, [a1 as LeasedItem]);
        const { lost } = await store.heartbeat(
          JOB,
          B,
          [a0, a2].map((i) => ({ id: (i as LeasedItem).id, fence: (i as LeasedItem).fence })),
          TTL,
        );
        assert.deepEqual(lost.sort(), ['item-0000', 'item-0002']);
        const mine = await store.heartbeat(
          JOB,
          A,
          [a0, a1, a2].map((i) => ({ id: (i as LeasedItem).id, fence: (i as LeasedItem).fence })),
          TTL,
        );
        assert.deepEqual(mine.lost, ['item-0001']);
      });
    });

    describe('commitResults', () => {
      it('rejects a unit whole when any of its items is stale, and commits the other units', async () => {
        await store.addItems(JOB, items(4));
        const leased = await store.leaseItems(JOB, A, 4, TTL);
        const [i0, i1, i2, i3] = leased as [LeasedItem, LeasedItem, LeasedItem, LeasedItem];
        await store.releaseItems(JOB, A, [i1]);
        await store.leaseItems(JOB, B, 1, TTL); // item-0001, under B now
        const group: CommitUnit = { items: [outcome(i0, 1), outcome(i1, 2)], delta: deltaOf(3) };
        const r = await store.commitResults(JOB, A, [group, unit(i2, 10), unit(i3, 20)]);
        assert.equal(r.committed, 2);
        assert.deepEqual(r.rejected.sort(), ['item-0000', 'item-0001']);
        assert.deepEqual(plain(await store.aggregates(JOB)), plain(deltaOf(10).merge(deltaOf(20))));
        const states = (await store.listItems(JOB, { limit: 10 })).map((i) => [i.id, i.state]);
        assert.deepEqual(states, [
          ['item-0000', 'leased'],
          ['item-0001', 'leased'],
          ['item-0002', 'done'],
          ['item-0003', 'done'],
        ]);
        const s = await store.status(JOB);
        assert.equal(s.records, 30);
      });

      it('keeps what the task measured and where its result went, with the item', async () => {
        await store.addItems(JOB, items(1, 250));
        const [item] = (await store.leaseItems(JOB, A, 1, TTL)) as [LeasedItem];
        await store.commitResults(JOB, A, [
          {
            items: [
              outcome(item, 3, {
                checkpoint: { offset: 250, tail: 'x' },
                metrics: { exitCode: 0, durationMs: 12 },
                result: { out: '/tmp/out/item-0000' },
              }),
            ],
          },
        ]);
        const [r] = await store.listItems(JOB, { limit: 1 });
        assert.deepEqual(r, {
          id: 'item-0000',
          state: 'done',
          size: 250,
          version: null,
          payload: { row: 0 },
          checkpoint: { offset: 250, tail: 'x' },
          covered: 250,
          attempts: 0,
          records: 3,
          bytes: 250,
          metrics: { exitCode: 0, durationMs: 12 },
          result: { out: '/tmp/out/item-0000' },
          error: null,
          owner: A,
          startedAt: 1_700_000_000_000,
          finishedAt: 1_700_000_001_000,
        });
        const s = await store.status(JOB);
        assert.deepEqual(s.bytes, { total: 250, done: 250 });
      });

      it('adds aggregates exactly across batches and workers', async () => {
        await store.addItems(JOB, items(60));
        const workerB = await h.openAnother();
        const expected = new Delta();
        const work = async (s: Store, owner: string) => {
          await s.heartbeat(JOB, owner, [], TTL);
          for (;;) {
            const leased = await s.leaseItems(JOB, owner, 7, TTL);
            if (leased.length === 0) return;
            const units = leased.map((i) => unit(i, Number(i.id.slice(5))));
            for (const u of units) expected.merge(u.delta as Delta);
            const r = await s.commitResults(JOB, owner, units);
            assert.deepEqual(r, { committed: leased.length, rejected: [] });
          }
        };
        await Promise.all([work(store, A), work(workerB, B)]);
        assert.deepEqual(plain(await store.aggregates(JOB)), plain(expected));
        const s = await store.status(JOB);
        assert.equal(s.items.done, 60);
        assert.equal(s.records, (59 * 60) / 2);
        const byOwner = new Map(s.workers.map((w) => [w.owner, w]));
        assert.equal((byOwner.get(A)?.done ?? 0) + (byOwner.get(B)?.done ?? 0), 60);
      });
    });

    describe('failItems', () => {
      it('retries after the delay, fails when attempts run out or at once when permanent, ignores stale ones', async () => {
        await store.addItems(JOB, items(3));
        const [r0, r1, r2] = (await store.leaseItems(JOB, A, 3, TTL)) as [LeasedItem, LeasedItem, LeasedItem];
        const states = await store.failItems(
          JOB,
          A,
          [
            { id: r0.id, fence: r0.fence, error: 'throttled', delayMs: 5_000 },
            {
              id: r1.id,
              fence: r1.fence,
              error: 'no such file',
              delayMs: 0,
              permanent: true,
              result: { code: 2 },
            },
            { id: r2.id, fence: r2.fence - 1, error: 'stale', delayMs: 0 },
          ],
          2,
        );
        assert.deepEqual([...states].sort(), [
          ['item-0000', 'retry'],
          ['item-0001', 'failed'],
        ]);
        const left = await store.workLeft(JOB);
        assert.deepEqual([left.ready, left.waiting, left.leased], [0, 1, 1]);
        assert.ok(
          left.nextInMs !== null && left.nextInMs > 4_000 && left.nextInMs <= 5_000,
          `${left.nextInMs}`,
        );
        assert.deepEqual(await store.leaseItems(JOB, A, 3, TTL), [], 'waits out its delay');
        await h.advance(5_001);
        const [again] = (await store.leaseItems(JOB, A, 3, TTL)) as [LeasedItem];
        assert.equal(again.id, 'item-0000');
        assert.equal(again.attempts, 1);
        const second = await store.failItems(
          JOB,
          A,
          [
            {
              id: again.id,
              fence: again.fence,
              error: 'throttled again',
              delayMs: 0,
              metrics: { status: 429 },
            },
          ],
          2,
        );
        assert.equal(second.get('item-0000'), 'failed');
        const s = await store.status(JOB);
        assert.deepEqual(s.items, { total: 3, pending: 0, leased: 1, done: 0, failed: 2 });
        assert.deepEqual(s.failures, [
          { id: 'item-0000', attempts: 2, error: 'throttled again', metrics: { status: 429 } },
          { id: 'item-0001', attempts: 1, error: 'no such file', result: { code: 2 } },
        ]);
      });

      it('retryFailed makes failed items pending again with their attempts reset', async () => {
        await store.addItems(JOB, items(2));
        const leased = await store.leaseItems(JOB, A, 2, TTL);
        await store.failItems(
          JOB,
          A,
          leased.map((i) => ({ id: i.id, fence: i.fence, error: 'boom', delayMs: 0 })),
          1,
        );
        assert.equal((await store.status(JOB)).items.failed, 2);
        assert.equal(await store.retryFailed(JOB), 2);
        const again = await store.leaseItems(JOB, B, 5, TTL);
        assert.deepEqual(
          again.map((i) => [i.id, i.attempts]),
          [
            ['item-0000', 0],
            ['item-0001', 0],
          ],
        );
      });
    });

    describe('releaseItems and reclaimDead', () => {
      it('gives items back untouched, no attempt counted; a stale release changes nothing', async () => {
        await store.addItems(JOB, items(2));
        const [x, y] = (await store.leaseItems(JOB, A, 2, TTL)) as [LeasedItem, LeasedItem];
        await store.releaseItems(JOB, A, [x, { id: y.id, fence: y.fence + 1 }]);
        assert.deepEqual(
          (await store.listItems(JOB, { limit: 5 })).map((i) => [i.id, i.state, i.attempts]),
          [
            ['item-0000', 'pending', 0],
            ['item-0001', 'leased', 0],
          ],
        );
        const [back] = await store.leaseItems(JOB, B, 5, TTL);
        assert.equal(back?.id, 'item-0000');
      });

      it('returns the items of dead owners at once, and only theirs', async () => {
        await store.addItems(JOB, items(3));
        await store.leaseItems(JOB, A, 2, TTL);
        await store.leaseItems(JOB, B, 1, TTL);
        assert.equal(await store.reclaimDead(JOB, (o) => o === A), 2);
        const left = await store.workLeft(JOB);
        assert.deepEqual([left.ready, left.leased], [2, 1]);
      });

      it('counts a dead worker as gone at once, so a complete listing can be taken again without waiting out its lease', async () => {
        await store.heartbeat(JOB, A, [], TTL);
        assert.equal(await store.claimListing(JOB, A, TTL), true);
        await store.markListed(JOB, A);
        await store.heartbeat(JOB, B, [], TTL); // B then dies (kill -9): it never leaves
        assert.equal(await store.claimListing(JOB, A, TTL), false, 'B still counts as live');
        await store.reclaimDead(JOB, (o) => o === B);
        assert.equal(await store.claimListing(JOB, A, TTL), true);
        const b = (await store.status(JOB)).workers.find((w) => w.owner === B);
        assert.equal(b?.left, true);
      });
    });

    describe('recount', () => {
      it('starts the count over: every item pending from its beginning, aggregates cleared', async () => {
        await store.addItems(JOB, items(3));
        const leased = await store.leaseItems(JOB, A, 3, TTL);
        await store.commitResults(
          JOB,
          A,
          leased.slice(0, 2).map((i, n) => unit(i, n + 1)),
        );
        assert.equal(await store.recount(JOB), 3);
        assert.ok((await store.aggregates(JOB)).isEmpty);
        const s = await store.status(JOB);
        assert.deepEqual(s.items, { total: 3, pending: 3, leased: 0, done: 0, failed: 0 });
        assert.equal(s.records, 0);
        const stale = await store.commitResults(JOB, A, [unit(leased[2] as LeasedItem, 9)]);
        assert.deepEqual(
          stale,
          { committed: 0, rejected: ['item-0002'] },
          'a lease from before the recount is void',
        );
        const again = await store.leaseItems(JOB, B, 5, TTL);
        assert.deepEqual(
          again.map((i) => i.checkpoint),
          [null, null, null],
        );
      });
    });

    describe('listing', () => {
      it('is held by one worker at a time, taken over when the hold expires, resumed from its cursor', async () => {
        await store.heartbeat(JOB, A, [], TTL);
        await store.heartbeat(JOB, B, [], TTL);
        assert.equal(await store.claimListing(JOB, A, TTL), true);
        assert.equal(await store.claimListing(JOB, B, TTL), false);
        assert.equal(await store.claimListing(JOB, A, TTL), true, 'the holder may claim again');
        await store.addItems(JOB, items(2), 'item-0001');
        await h.advance(TTL / 2);
        await store.heartbeat(JOB, A, [], TTL); // renews the hold
        await store.heartbeat(JOB, B, [], TTL);
        await h.advance(TTL / 2 + 1);
        assert.equal(await store.claimListing(JOB, B, TTL), false, 'the renewed hold still stands');
        await store.heartbeat(JOB, B, [], TTL);
        await h.advance(TTL / 2 + 1); // A stops beating: its hold runs out
        assert.equal(await store.claimListing(JOB, B, TTL), true);
        const job = (await store.listJobs()).find((j) => j.name === JOB);
        assert.equal(job?.listCursor, 'item-0001', 'the new lister resumes after the cursor');
        assert.equal((await store.status(JOB)).listingComplete, false);
        await store.markListed(JOB, B);
        const listed = (await store.listJobs()).find((j) => j.name === JOB);
        assert.equal(listed?.listCursor, null);
        assert.ok(listed?.listedAt);
        assert.equal((await store.status(JOB)).listingComplete, true);
      });

      it('once complete, is listed again only by a worker alone on the job', async () => {
        await store.heartbeat(JOB, A, [], TTL);
        assert.equal(await store.claimListing(JOB, A, TTL), true);
        await store.markListed(JOB, A);
        await store.heartbeat(JOB, B, [], TTL);
        assert.equal(await store.claimListing(JOB, A, TTL), false, 'B is live on the job');
        await store.leaveJob(JOB, B);
        assert.equal(await store.claimListing(JOB, A, TTL), true, 'B left');
        await store.markListed(JOB, A);
        await store.heartbeat(JOB, B, [], TTL);
        await h.advance(TTL + 1);
        await store.heartbeat(JOB, A, [], TTL);
        assert.equal(
          await store.claimListing(JOB, A, TTL),
          true,
          "B's heartbeat stopped longer than its lease ago",
        );
      });
    });

    describe('status', () => {
      it('shows every worker: what it did and holds, latest heartbeat first, stale after its lease without one, left ones last', async () => {
        await store.addItems(JOB, items(5));
        await store.heartbeat(JOB, A, [], TTL);
        await store.heartbeat(JOB, B, [], TTL);
        const a = await store.leaseItems(JOB, A, 3, TTL);
        const b = await store.leaseItems(JOB, B, 2, TTL);
        await store.commitResults(JOB, A, [unit(a[0] as LeasedItem, 4), unit(a[1] as LeasedItem, 6)]);
        await h.advance(TTL / 2);
        await store.heartbeat(JOB, B, b, TTL);
        await h.advance(TTL / 2 + 1);
        const s = await store.status(JOB);
        const rows = s.workers.map((w) => [w.owner, w.host, w.done, w.leased, w.records, w.stale, w.left]);
        assert.deepEqual(rows, [
          [B, 'host-b', 0, 2, 0, false, false],
          [A, 'host-a', 2, 1, 10, true, false],
        ]);
        const [wb, wa] = s.workers as [(typeof s.workers)[0], (typeof s.workers)[0]];
        assert.ok(wb.lastSeen - wa.lastSeen >= TTL / 2 - 1000, 'lastSeen is each worker’s last heartbeat');
        assert.ok(wa.startedAt <= wa.lastSeen);
        await store.leaveJob(JOB, B);
        const after = (await store.status(JOB)).workers.map((w) => [w.owner, w.left, w.stale]);
        assert.deepEqual(
          after,
          [
            [A, false, true],
            [B, true, false],
          ],
          'a worker that left comes last, neither live nor stale',
        );
      });

      it('reads progress in one go: the counts of status, and the workers that are not stale', async () => {
        await store.addItems(JOB, items(6));
        await store.heartbeat(JOB, A, [], TTL);
        await store.heartbeat(JOB, B, [], TTL);
        const a = await store.leaseItems(JOB, A, 3, TTL);
        await store.leaseItems(JOB, B, 1, TTL);
        await store.commitResults(JOB, A, [unit(a[0] as LeasedItem, 4), unit(a[1] as LeasedItem, 6)]);
        const broken = a[2] as LeasedItem;
        await store.failItems(
          JOB,
          A,
          [{ id: broken.id, fence: broken.fence, error: 'broken', delayMs: 0, permanent: true }],
          4,
        );
        const counts = async () => {
          const s = await store.status(JOB);
          const p = await store.progress(JOB);
          assert.deepEqual(
            {
              listingComplete: p.listingComplete,
              items: p.items,
              bytes: p.bytes,
              records: p.records,
            },
            { listingComplete: s.listingComplete, items: s.items, bytes: s.bytes, records: s.records },
          );
          assert.equal(p.workers, s.workers.filter((w) => !w.stale).length);
          return p;
        };
        const p = await counts();
        assert.deepEqual(p.items, { total: 6, pending: 2, leased: 1, done: 2, failed: 1 });
        assert.equal(p.records, 10);
        assert.equal(p.workers, 2);
        await h.advance(TTL + 1);
        await store.heartbeat(JOB, B, [], TTL);
        assert.equal((await counts()).workers, 1, 'A went stale');
        await store.leaveJob(JOB, A);
        assert.equal((await counts()).workers, 2, 'A left: no longer stale');
      });

      it('keeps runs with their stats and events, newest first', async () => {
        const first = await store.startRun(JOB, A, 1_700_000_000_000);
        await store.addRunEvent(first, 1_700_000_000_500, 'concurrency 8 -> 12: latency holds');
        await store.addRunEvent(first, 1_700_000_000_900, 'concurrency 12 -> 6: 429s');
        await store.endRun(first, 'interrupted', { processed: 3 }, 1_700_000_001_000);
        const second = await store.startRun(JOB, B, 1_700_000_002_000);
        const s = await store.status(JOB);
        assert.deepEqual(s.runs, [
          { id: second, owner: B, startedAt: 1_700_000_002_000, endedAt: null, outcome: null, stats: {} },
          {
            id: first,
            owner: A,
            startedAt: 1_700_000_000_000,
            endedAt: 1_700_000_001_000,
            outcome: 'interrupted',
            stats: { processed: 3 },
          },
        ]);
        assert.deepEqual(s.events, [
          { run: first, at: 1_700_000_000_900, message: 'concurrency 12 -> 6: 429s' },
          { run: first, at: 1_700_000_000_500, message: 'concurrency 8 -> 12: latency holds' },
        ]);
      });
    });

    describe('listItems', () => {
      it('pages through items in id order, by state', async () => {
        await store.addItems(JOB, items(7));
        const leased = await store.leaseItems(JOB, A, 3, TTL);
        await store.commitResults(
          JOB,
          A,
          leased.map((i) => unit(i, 1)),
        );
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listItems(JOB, { limit: 3, ...(after ? { after } : {}) });
          if (page.length === 0) break;
          seen.push(...page.map((i) => i.id));
          after = page.at(-1)?.id;
        }
        assert.deepEqual(
          seen,
          items(7).map((i) => i.id),
        );
        const done = await store.listItems(JOB, { state: 'done', after: 'item-0000', limit: 10 });
        assert.deepEqual(
          done.map((i) => i.id),
          ['item-0001', 'item-0002'],
        );
        const pending = await store.listItems(JOB, { state: 'pending', limit: 2 });
        assert.deepEqual(
          pending.map((i) => [i.id, i.payload]),
          [
            ['item-0003', { row: 3 }],
            ['item-0004', { row: 4 }],
          ],
        );
      });

      it('orders ids by their bytes, as listings do', async () => {
        await store.addItems(JOB, [
          { id: 'b', size: 1 },
          { id: 'B', size: 1 },
          { id: 'a-1', size: 1 },
          { id: 'a_1', size: 1 },
          { id: 'é', size: 1 },
        ]);
        const ids = (await store.listItems(JOB, { limit: 10 })).map((i) => i.id);
        assert.deepEqual(ids, ['B', 'a-1', 'a_1', 'b', 'é']);
      });
    });
  });
}
