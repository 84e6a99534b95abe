// The SQLite store, verb by verb, on a real database file.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Delta } from '../src/aggregate/delta.js';
import { UsageError } from '../src/errors.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import type { CommitUnit, ItemDone, LeasedItem } from '../src/store/types.js';

const JOB = 'j';
let dir: string;
let store: SqliteStore;

function doneItem(item: LeasedItem, records: number): ItemDone {
  return {
    id: item.id,
    fence: item.fence,
    resume: { offset: 100, tailMalformed: false },
    readEnd: 100,
    records,
    bytes: 100,
    startedAt: 1,
    finishedAt: 2,
  };
}

function outcome(item: LeasedItem, records: number): CommitUnit {
  const delta = new Delta();
  delta.count('["records"]', records);
  delta.sketch('["all"]').accept(records * 10);
  delta.observeBound('time', `k${records}`, `t${records}`);
  return { items: [doneItem(item, records)], delta };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-store-'));
  store = SqliteStore.open(path.join(dir, 'state.db'));
  await store.openJob({ name: JOB, source: 'file:/x', task: 'azure-logs', filters: {} }, 0);
  await store.addItems(JOB, [
    { id: 'a', size: 100 },
    { id: 'b', size: 100 },
    { id: 'c', size: 100 },
  ]);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sqlite store', () => {
  it('leases each pending item to one owner only', async () => {
    const one = await store.leaseItems(JOB, 'o1', 2, 60_000, 1000);
    const two = await store.leaseItems(JOB, 'o2', 5, 60_000, 1000);
    assert.equal(one.length, 2);
    assert.equal(two.length, 1);
    assert.equal(new Set([...one, ...two].map((i) => i.id)).size, 3);
  });

  it('commits a batch as one transaction: items done and their deltas added together', async () => {
    const items = await store.leaseItems(JOB, 'o1', 3, 60_000, 1000);
    const result = await store.commitResults(
      JOB,
      'o1',
      items.map((i, n) => outcome(i, n + 1)),
    );
    assert.deepEqual(result, { committed: 3, rejected: 0 });
    const totals = await store.aggregates(JOB);
    assert.equal(totals.counters.get('["records"]'), 6);
    assert.equal(totals.latency.get('["all"]')?.count, 3);
    assert.deepEqual(totals.bounds.get('time'), {
      min: { key: 'k1', text: 't1' },
      max: { key: 'k3', text: 't3' },
    });
    const s = await store.status(JOB);
    assert.equal(s.items.done, 3);
    assert.equal(s.records, 6);
  });

  it('rejects the commit of an owner whose lease was taken over (fencing)', async () => {
    const [stale] = await store.leaseItems(JOB, 'old', 1, 10, 1000);
    assert.ok(stale);
    // The lease expires; another owner reclaims and leases the item, with a newer fencing token.
    assert.equal(await store.reclaimLeases(JOB, 5000, () => false), 1);
    const fresh = (await store.leaseItems(JOB, 'new', 3, 60_000, 5000)).find((i) => i.id === stale.id);
    assert.ok(fresh && fresh.fence > stale.fence);
    const late = await store.commitResults(JOB, 'old', [outcome(stale, 7)]);
    assert.deepEqual(late, { committed: 0, rejected: 1 });
    assert.equal(
      (await store.aggregates(JOB)).counters.get('["records"]'),
      undefined,
      'the stale delta added nothing',
    );
    const ok = await store.commitResults(JOB, 'new', [outcome(fresh, 2)]);
    assert.equal(ok.committed, 1);
    assert.equal((await store.aggregates(JOB)).counters.get('["records"]'), 2);
  });

  it('rejects a whole unit (a group of files parsed as one) when one of its leases is stale', async () => {
    const [a, b] = await store.leaseItems(JOB, 'old', 2, 60_000, 1000);
    assert.ok(a && b);
    // a is still ours; b was given up and taken by another owner: the unit {a, b} cannot commit.
    await store.releaseItems(JOB, 'old', [b.id]);
    assert.ok((await store.leaseItems(JOB, 'new', 3, 60_000, 2000)).some((i) => i.id === b.id));
    const delta = new Delta();
    delta.count('["records"]', 9);
    const r = await store.commitResults(JOB, 'old', [{ items: [doneItem(a, 4), doneItem(b, 5)], delta }]);
    assert.deepEqual(r, { committed: 0, rejected: 2 });
    assert.equal((await store.aggregates(JOB)).counters.get('["records"]'), undefined);
    const s = await store.status(JOB);
    assert.equal(s.items.done, 0, 'a, updated before b was found stale, was rolled back too');
    assert.equal(s.items.leased, 3);
  });

  it('reclaims at once the leases of an owner known to be dead, and keeps live ones', async () => {
    await store.leaseItems(JOB, 'dead', 1, 60_000, 1000);
    await store.leaseItems(JOB, 'alive', 1, 60_000, 1000);
    const n = await store.reclaimLeases(JOB, 1001, (owner) => owner === 'dead');
    assert.equal(n, 1);
    assert.equal((await store.status(JOB)).items.leased, 1);
  });

  it('puts a failed attempt back with a retry time, and ends it failed when attempts run out', async () => {
    let [item] = await store.leaseItems(JOB, 'o', 1, 60_000, 1000);
    assert.ok(item);
    assert.equal(await store.failItem(JOB, 'o', item, 'EIO', { notBefore: 5000, maxAttempts: 2 }), 'retry');
    assert.equal(
      (await store.leaseItems(JOB, 'o', 3, 60_000, 2000)).some((i) => i.id === item?.id),
      false,
      'not before its time',
    );
    await store.releaseItems(JOB, 'o', ['b', 'c']);
    [item] = (await store.leaseItems(JOB, 'o', 3, 60_000, 6000)).filter((i) => i.id === item?.id);
    assert.ok(item);
    assert.equal(item.attempts, 1);
    assert.equal(
      await store.failItem(JOB, 'o', item, 'EIO again', { notBefore: 0, maxAttempts: 2 }),
      'failed',
    );
    const s = await store.status(JOB);
    assert.equal(s.items.failed, 1);
    assert.deepEqual(s.failures, [{ id: item.id, attempts: 2, error: 'EIO again' }]);
    assert.equal(await store.retryFailed(JOB), 1);
    assert.equal((await store.status(JOB)).items.failed, 0);
  });

  it('re-opens a done item that grew, to be read from where it stopped', async () => {
    const items = await store.leaseItems(JOB, 'o', 3, 60_000, 1000);
    await store.commitResults(
      JOB,
      'o',
      items.map((i) => outcome(i, 1)),
    );
    const added = await store.addItems(JOB, [
      { id: 'a', size: 150 },
      { id: 'b', size: 100 },
      { id: 'd', size: 10 },
    ]);
    assert.deepEqual(added, { added: 1, grown: 1, replaced: 0, bytesAdded: 60 });
    const again = await store.leaseItems(JOB, 'o', 5, 60_000, 2000);
    const a = again.find((i) => i.id === 'a');
    assert.deepEqual(a?.resume, { offset: 100, tailMalformed: false });
    assert.deepEqual(again.map((i) => i.id).sort(), ['a', 'd']);
  });

  it('does not recount a done item that shrank, and says why', async () => {
    const items = await store.leaseItems(JOB, 'o', 3, 60_000, 1000);
    await store.commitResults(
      JOB,
      'o',
      items.map((i) => outcome(i, 1)),
    );
    const added = await store.addItems(JOB, [{ id: 'a', size: 40 }]);
    assert.equal(added.replaced, 1);
    assert.equal((await store.status(JOB)).items.pending, 0);
  });

  it('resumes a job with the same spec and refuses a different one under the same name', async () => {
    await store.openJob({ name: JOB, source: 'file:/x', task: 'azure-logs', filters: {} }, 5);
    await assert.rejects(
      store.openJob({ name: JOB, source: 'file:/y', task: 'azure-logs', filters: {} }, 5),
      (e: Error) => e instanceof UsageError && /job "j" already exists for file:\/x/.test(e.message),
    );
  });

  it('refuses a store path it cannot create, as a usage error', () => {
    assert.throws(
      () => SqliteStore.open('/proc/definitely/not/here.db'),
      (e: Error) => e instanceof UsageError && /cannot open the store/.test(e.message),
    );
  });
});
