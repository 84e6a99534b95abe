// The engine loop on a fake clock, against a real SQLite store: commits, retries, permanent
// failures, the grace period, the hard stop, a lost lease, items held by others, failing store calls.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Delta } from '../src/aggregate/delta.js';
import { type EngineEvent, type EngineOptions, type RunSummary, runJob } from '../src/engine/loop.js';
import { ItemError, ItemRequeued } from '../src/errors.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { type Store, StoreError } from '../src/store/types.js';
import type { LeasedItem, Outcome, Task } from '../src/tasks/types.js';
import { FakeClock, settle } from './support/fake-clock.js';

const JOB = 'job';

/** A task whose items do what the test says: finish, fail, or wait until released. */
class ScriptedTask implements Task {
  readonly name = 'scripted';
  readonly started: string[] = [];
  readonly signals = new Map<string, AbortSignal>();
  private readonly held = new Map<string, () => void>();
  constructor(private readonly script: (item: LeasedItem) => 'hold' | 'ok' | Error = () => 'ok') {}

  async run(item: LeasedItem, signal: AbortSignal): Promise<Outcome> {
    this.started.push(item.id);
    this.signals.set(item.id, signal);
    const what = this.script(item);
    if (what instanceof Error) throw what;
    if (what === 'hold') await new Promise<void>((resolve) => this.held.set(item.id, resolve));
    const delta = new Delta();
    delta.count('items');
    return { checkpoint: { pass: 1 }, covered: item.size, records: 1, bytes: item.size, delta };
  }

  /** Lets a held item finish (even one whose work was told to stop: its outcome must not commit). */
  finish(id: string): void {
    this.held.get(id)?.();
    this.held.delete(id);
  }

  async close() {}
}

let dir: string;
let clock: FakeClock;
let store: SqliteStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-engine-'));
  clock = new FakeClock();
  store = SqliteStore.open(path.join(dir, 'store.db'), { clock: () => clock.now() });
  await store.openJob({ name: JOB, source: 'test', task: 'scripted', filters: {} });
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function addItems(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `item-${String(i).padStart(3, '0')}`);
  await store.addItems(
    JOB,
    ids.map((id) => ({ id, size: 10 })),
  );
  await store.markListed(JOB, 'lister');
  return ids;
}

/** Starts the loop; `result` settles when it ends. */
function start(task: Task, options: Partial<EngineOptions> = {}) {
  const events: EngineEvent[] = [];
  let result: RunSummary | undefined;
  let error: unknown;
  const done = runJob({
    store,
    job: JOB,
    task,
    clock,
    concurrency: 4,
    random: () => 0.5,
    backoff: { baseMs: 1000, capMs: 10_000 },
    onEvent: (e) => events.push(e),
    ...options,
  }).then(
    (r) => {
      result = r;
    },
    (e) => {
      error = e;
    },
  );
  return {
    events,
    done,
    get result() {
      return result;
    },
    get error() {
      return error;
    },
    get ended() {
      return result !== undefined || error !== undefined;
    },
  };
}

async function itemsCommitted(s: Store = store): Promise<number> {
  return (await s.aggregates(JOB)).counters.get('items') ?? 0;
}

describe('the engine loop', () => {
  it('runs every item once and commits it with its delta, in batches', async () => {
    await addItems(20);
    const task = new ScriptedTask();
    const run = start(task);
    await clock.until(() => run.ended);
    assert.equal(run.error, undefined);
    assert.equal(run.result?.outcome, 'done');
    assert.equal(task.started.length, 20);
    assert.equal(await itemsCommitted(), 20);
    assert.equal((await store.status(JOB)).items.done, 20);
  });

  it('ends when its last item is done, without waiting for a timer', async () => {
    // The clock never moves here: a run that napped before seeing it was done would never end.
    await addItems(12);
    const task = new ScriptedTask();
    const run = start(task);
    for (let i = 0; i < 20 && !run.ended; i++) await settle();
    assert.equal(run.error, undefined);
    assert.equal(run.result?.outcome, 'done');
    assert.equal(await itemsCommitted(), 12);
  });

  it('works on the first page of a listing while the next page is still on its way', async () => {
    let nextPage!: () => void;
    const requested = new Promise<void>((resolve) => {
      nextPage = resolve;
    });
    const listing = {
      uri: 'test',
      async *list() {
        for (let i = 0; i < 3; i++) yield { id: `first-${i}`, size: 10 };
        await requested; // the next page is a request away
        for (let i = 0; i < 2; i++) yield { id: `second-${i}`, size: 10 };
      },
    };
    const task = new ScriptedTask();
    const run = start(task, { listing });
    await clock.until(() => task.started.length === 3);
    assert.deepEqual([...task.started].sort(), ['first-0', 'first-1', 'first-2']);
    assert.equal(run.ended, false);
    nextPage();
    await clock.until(() => run.ended);
    assert.equal(run.error, undefined);
    assert.equal(await itemsCommitted(), 5);
    assert.equal(run.result?.outcome, 'done');
  });

  it('retries a transient failure after its backoff, and fails a permanent one at once', async () => {
    await addItems(2);
    let tries = 0;
    const task = new ScriptedTask((item) => {
      if (item.id === 'item-000') return ++tries < 3 ? new ItemError('503 ServerBusy', true) : 'ok';
      return new ItemError('no such blob', false);
    });
    const run = start(task, { maxAttempts: 5 });
    await clock.until(() => run.ended);
    assert.equal(run.result?.outcome, 'failed-items');
    const status = await store.status(JOB);
    assert.equal(status.items.done, 1);
    assert.deepEqual(
      status.failures.map((f) => [f.id, f.attempts]),
      [['item-001', 1]],
    );
    assert.equal(tries, 3);
    const retries = run.events.filter((e) => e.type === 'retry');
    assert.equal(retries.length, 2);
  });

  it('lets items in hand finish within the grace period after a stop request, and starts no new ones', async () => {
    await addItems(10);
    const task = new ScriptedTask(() => 'hold');
    const stop = new AbortController();
    const run = start(task, { signal: stop.signal, graceMs: 5000, concurrency: 2 });
    await clock.until(() => task.started.length === 2);
    stop.abort();
    await clock.advance(1000);
    assert.equal(run.ended, false, 'items in hand may still finish');
    for (const id of task.started) task.finish(id);
    await clock.until(() => run.ended);
    assert.equal(run.result?.outcome, 'interrupted');
    assert.equal(task.started.length, 2, 'no item was started after the stop request');
    assert.equal(await itemsCommitted(), 2);
    const status = await store.status(JOB);
    assert.deepEqual([status.items.done, status.items.pending, status.items.leased], [2, 8, 0]);
  });

  it('abandons items still in hand when the grace period ends: they go back untouched, no attempt used', async () => {
    await addItems(3);
    const task = new ScriptedTask(() => 'hold');
    const stop = new AbortController();
    const run = start(task, { signal: stop.signal, graceMs: 5000 });
    await clock.until(() => task.started.length === 3);
    stop.abort();
    await clock.advance(4900);
    assert.equal(run.ended, false);
    await clock.advance(200);
    assert.ok(
      task.started.every((id) => task.signals.get(id)?.aborted),
      'the work of every item in hand was told to stop',
    );
    for (const id of task.started) task.finish(id);
    await clock.until(() => run.ended);
    assert.equal(run.result?.outcome, 'interrupted');
    assert.equal(await itemsCommitted(), 0, 'nothing of abandoned items commits');
    const items = await store.listItems(JOB, { limit: 10 });
    assert.ok(items.every((i) => i.state === 'pending' && i.attempts === 0));
  });

  it('stops at once on a hard stop: items in hand are given back, nothing of them commits', async () => {
    await addItems(3);
    const task = new ScriptedTask(() => 'hold');
    const hard = new AbortController();
    const run = start(task, { hardSignal: hard.signal, graceMs: 60_000 });
    await clock.until(() => task.started.length === 3);
    hard.abort();
    await settle();
    for (const id of task.started) task.finish(id);
    await clock.until(() => run.ended, 1000);
    assert.equal(run.result?.outcome, 'interrupted');
    assert.equal(await itemsCommitted(), 0);
    assert.equal((await store.status(JOB)).items.pending, 3);
  });

  it('stops the work of an item whose lease was taken over, and commits nothing of it', async () => {
    await addItems(2);
    const task = new ScriptedTask((item) => (item.id === 'item-000' ? 'hold' : 'ok'));
    const run = start(task, { leaseTtlMs: 30_000 });
    await clock.until(() => run.events.some((e) => e.type === 'commit' && e.items === 1));
    assert.ok(task.started.includes('item-000'));
    // Another worker, whose clock says the lease has run out, takes the item over (new fence).
    const thief = SqliteStore.open(path.join(dir, 'store.db'), { clock: () => clock.now() + 60_000 });
    const taken = await thief.leaseItems(JOB, 'thief', 10, 30_000);
    assert.deepEqual(
      taken.map((i) => i.id),
      ['item-000'],
    );
    await clock.advance(10_001); // the next heartbeat learns the lease is lost
    assert.equal(task.signals.get('item-000')?.aborted, true);
    task.finish('item-000'); // the task ignores the signal and returns a result anyway
    await settle();
    const lost = run.events.find((e) => e.type === 'lost');
    assert.deepEqual(lost && lost.type === 'lost' ? lost.ids : [], ['item-000']);
    // The thief finishes it; only then is the job done, and the item counted once.
    const delta = new Delta();
    delta.count('items');
    const [item] = taken as [LeasedItem];
    const commit = await thief.commitResults(JOB, 'thief', [
      {
        items: [
          {
            id: item.id,
            fence: item.fence,
            checkpoint: null,
            covered: 10,
            records: 1,
            bytes: 10,
            startedAt: 0,
            finishedAt: 0,
          },
        ],
        delta,
      },
    ]);
    assert.equal(commit.committed, 1);
    await clock.until(() => run.ended);
    await thief.close();
    assert.equal(run.result?.outcome, 'done');
    assert.equal(run.result?.lost, 1);
    assert.equal(await itemsCommitted(), 2, 'item-000 counted once, by the thief');
  });

  it('counts an item whose commit was refused as a lost lease, when the takeover came before a heartbeat', async () => {
    await addItems(2);
    const task = new ScriptedTask((item) => (item.id === 'item-000' && item.fence === 1 ? 'hold' : 'ok'));
    const run = start(task, { leaseTtlMs: 30_000, commitIntervalMs: 100 });
    await clock.until(() => run.events.some((e) => e.type === 'commit' && e.items === 1));
    const thief = SqliteStore.open(path.join(dir, 'store.db'), { clock: () => clock.now() + 60_000 });
    const taken = await thief.leaseItems(JOB, 'thief', 10, 30_000);
    // It finishes before the next heartbeat (10 s away) could say the lease is gone: the commit does.
    task.finish('item-000');
    await clock.until(() => run.events.some((e) => e.type === 'commit' && e.rejected === 1), 1000);
    const lost = run.events.find((e) => e.type === 'lost');
    assert.deepEqual(lost && lost.type === 'lost' ? lost.ids : [], ['item-000']);
    await thief.releaseItems(
      JOB,
      'thief',
      taken.map((i) => ({ id: i.id, fence: i.fence })),
    );
    await thief.close();
    // Given back, it is leased again by the same worker under a new fence: that lease is not lost.
    await clock.until(() => run.ended, 60_000);
    assert.deepEqual(
      task.started.filter((id) => id === 'item-000'),
      ['item-000', 'item-000'],
    );
    assert.equal(run.result?.lost, 1);
    assert.equal(run.result?.rejected, 1);
    assert.equal(await itemsCommitted(), 2, 'item-000 counted once, by its second lease');
  });

  it("when a group's commit is refused for one taken item, says only that one lost and runs the rest again at once", async () => {
    await addItems(2);
    let release: (() => void) | undefined;
    const groups: string[][] = [];
    const task: Task = {
      name: 'pairs',
      groupLimits: { items: 2, bytes: 1e9 },
      run: () => Promise.reject(new Error('run in groups only')),
      async runGroup(items) {
        groups.push(items.map((i) => i.id));
        if (groups.length === 1) await new Promise<void>((resolve) => (release = resolve));
        const delta = new Delta();
        for (const _ of items) delta.count('items');
        return {
          delta,
          items: items.map((i) => ({
            id: i.id,
            checkpoint: null,
            covered: i.size,
            records: 1,
            bytes: i.size,
          })),
        };
      },
      close: async () => {},
    };
    const run = start(task, { leaseTtlMs: 30_000, commitIntervalMs: 100 });
    await clock.until(() => release !== undefined);
    assert.deepEqual(groups[0], ['item-000', 'item-001']);
    // Another worker, whose clock says the leases have run out, takes one item over and finishes it.
    const thief = SqliteStore.open(path.join(dir, 'store.db'), { clock: () => clock.now() + 60_000 });
    const [taken] = (await thief.leaseItems(JOB, 'thief', 1, 30_000)) as [LeasedItem];
    const delta = new Delta();
    delta.count('items');
    const one = { checkpoint: null, covered: 10, records: 1, bytes: 10, startedAt: 0, finishedAt: 0 };
    await thief.commitResults(JOB, 'thief', [
      { items: [{ id: taken.id, fence: taken.fence, ...one }], delta },
    ]);
    await thief.close();
    (release as () => void)();
    await clock.until(() => run.ended, 5000);
    const lost = run.events.filter((e) => e.type === 'lost');
    assert.deepEqual(
      lost.flatMap((e) => (e.type === 'lost' ? e.ids : [])),
      [taken.id],
    );
    const other = taken.id === 'item-000' ? 'item-001' : 'item-000';
    assert.deepEqual(groups[1], [other], 'the item still ours was run again, without waiting for its lease');
    assert.equal(run.result?.outcome, 'done');
    assert.equal(await itemsCommitted(), 2, 'each item counted once');
  });

  it("reads the job's counts less often when the store takes long to count them", async () => {
    /** The store, with progress() taking `ms` of the clock's time, and its calls counted. */
    const counting = (ms: number) => {
      const calls = { n: 0 };
      const wrapped = new Proxy(store, {
        get(target, prop) {
          if (prop === 'progress')
            return async (job: string) => {
              calls.n += 1;
              await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
              return target.progress(job);
            };
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      return { calls, store: wrapped };
    };
    for (const [ms, atMost, atLeast] of [
      [0, 40, 25],
      [200, 4, 2],
    ] as const) {
      await store.addItems(JOB, [{ id: `case-${ms}`, size: 10 }]);
      await store.markListed(JOB, 'lister');
      const task = new ScriptedTask(() => 'hold');
      const slow = counting(ms);
      const run = start(task, { store: slow.store, progressIntervalMs: 1000 });
      await clock.advance(30_000);
      const events = run.events.filter((e) => e.type === 'progress').length;
      assert.ok(events >= 25, `progress is still said every second (${events} in 30 s)`);
      assert.ok(
        slow.calls.n <= atMost && slow.calls.n >= atLeast,
        `counts read ${slow.calls.n} times in 30 s when a read takes ${ms} ms`,
      );
      for (const id of task.started) task.finish(id);
      await clock.until(() => run.ended);
      assert.equal(run.result?.outcome, 'done');
    }
  });

  it('waits for items leased by another worker, and takes them over when that lease runs out', async () => {
    await addItems(3);
    const frozen = SqliteStore.open(path.join(dir, 'store.db'), { clock: () => clock.now() });
    await frozen.leaseItems(JOB, 'frozen-worker', 1, 30_000);
    const task = new ScriptedTask();
    const run = start(task);
    await clock.advance(5000);
    assert.equal(run.ended, false, 'the job is not done while another worker holds an item');
    assert.equal(task.started.length, 2);
    assert.ok(run.events.some((e) => e.type === 'waiting' && /leased by other workers/.test(e.message)));
    await clock.until(() => run.ended, 60_000);
    await frozen.close();
    assert.equal(run.result?.outcome, 'done');
    assert.equal(task.started.length, 3);
    assert.equal(await itemsCommitted(), 3);
  });

  it('gives an item back without using an attempt when the task requeues it', async () => {
    await addItems(1);
    let first = true;
    const task = new ScriptedTask(() => {
      if (!first) return 'ok';
      first = false;
      return new ItemRequeued('memory 92 % > 90 %: the youngest child was stopped');
    });
    const run = start(task);
    await clock.until(() => run.ended);
    assert.equal(run.result?.outcome, 'done');
    assert.equal(run.result?.requeued, 1);
    const [item] = await store.listItems(JOB, { limit: 1 });
    assert.equal(item?.attempts, 0);
  });
});

/** The real store, but a verb fails `times` times (or always) with the given error. */
function failing(
  real: Store,
  verb: keyof Store,
  error: () => Error,
  times = Number.POSITIVE_INFINITY,
): Store {
  let left = times;
  return new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== verb || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        if (left > 0) {
          left -= 1;
          return Promise.reject(error());
        }
        return value.apply(target, args);
      };
    },
  });
}

describe('a failing store is the run’s problem, never the items’', () => {
  it('tries a failed commit again, and every item ends done, none failed', async () => {
    await addItems(5);
    const flaky = failing(
      store,
      'commitResults',
      () => new StoreError('SQLITE_BUSY: database is locked', true),
      3,
    );
    const run = start(new ScriptedTask(), { store: flaky });
    await clock.until(() => run.ended);
    assert.equal(run.error, undefined);
    assert.equal(run.result?.outcome, 'done');
    assert.equal(run.result?.storeRetries, 3);
    const status = await store.status(JOB);
    assert.deepEqual([status.items.done, status.items.failed], [5, 0]);
    assert.equal(await itemsCommitted(), 5);
  });

  it('stops the run with a StoreError when the store keeps failing, leaving items unfailed for the next run', async () => {
    await addItems(5);
    const broken = failing(
      store,
      'commitResults',
      () => new StoreError('SQLITE_FULL: database or disk is full', false),
    );
    const run = start(new ScriptedTask(), { store: broken });
    await clock.until(() => run.ended);
    assert.ok(run.error instanceof StoreError, String(run.error));
    assert.match((run.error as Error).message, /Nothing is lost/);
    const stopping = run.events.filter((e) => e.type === 'stopping');
    assert.equal(stopping.length, 1, `said once: ${JSON.stringify(stopping)}`);
    const items = await store.listItems(JOB, { limit: 10 });
    assert.ok(
      items.every((i) => i.state !== 'failed' && i.attempts === 0),
      'no item was failed or charged an attempt',
    );
    // The next run, on a store that works, finishes the job.
    const again = start(new ScriptedTask(), { leaseTtlMs: 5000 });
    await clock.until(() => again.ended);
    assert.equal(again.result?.outcome, 'done');
    assert.equal(await itemsCommitted(), 5);
  });

  it('gives up after the configured tries when a retryable failure does not pass', async () => {
    await addItems(2);
    const down = failing(store, 'leaseItems', () => new StoreError('connection refused', true));
    const run = start(new ScriptedTask(), {
      store: down,
      storeRetry: { tries: 4, backoff: { baseMs: 100, capMs: 1000 } },
    });
    await clock.until(() => run.ended);
    assert.ok(run.error instanceof StoreError);
    assert.match((run.error as Error).message, /failed 4 times in a row/);
    assert.equal(run.events.filter((e) => e.type === 'store-retry').length, 3);
  });
});
