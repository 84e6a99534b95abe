// The engine loop, the same for every kind of job (ingest, run, analyze over a source): it lists
// items into the store (one worker of many lists), claims them in batches, runs the task on each
// under the governor, renews its leases by heartbeat and stops work whose lease was lost, retries
// failures with backoff (not permanent ones), commits outcomes in batches, and stops cleanly. A
// store call that fails is retried; if it keeps failing the run stops (exit 3) with state intact.
// Time comes from `clock`, so test/engine.test.ts drives all of it without sleeping.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { ItemError, ItemRequeued, UsageError } from '../errors.js';
import type { RequestTry } from '../sources/types.js';
import {
  type CommitUnit,
  type ItemFailure,
  type ItemOutcome,
  type JobProgress,
  type JobStatus,
  type LeasedItem,
  type NewItem,
  type Store,
  StoreError,
} from '../store/types.js';
import type { Outcome, Task } from '../tasks/types.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { type Clock, every, systemClock } from './clock.js';
import { describeChange, type Governor, type LimitChange } from './governor/index.js';
import { Limiter } from './governor/limiter.js';
import { RateEstimator } from './rate.js';

/** Where a job's items come from: listed lazily, resumable after the last id stored. */
export interface Listing {
  /** Printable (no secret). */
  readonly uri: string;
  list(after: string | undefined, signal: AbortSignal): AsyncIterable<NewItem>;
}

/** How many items may run at once: the governor, a fixed limiter, or a task's own gate (children). */
export interface Slots {
  /** Items allowed at once now. */
  readonly limit: number;
  /** Waits for a free slot; the returned function frees it. Rejects when `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<() => void>;
}

/** The loop's options, with their defaults and bounds. */
export interface EngineOptions {
  store: Store;
  job: string;
  task: Task;
  /** Lists new items into the store; without it the loop works on what the store holds. */
  listing?: Listing;
  /** Who holds the leases; default: host/pid/nonce (see leaseOwner). */
  owner?: string;
  /** Decides how many items run at once; without it, `concurrency` items run at once. */
  governor?: Governor;
  /** Items at once when there is no governor. Default 8. */
  concurrency?: number;
  /** Slots of the task's own (the exec task's memory-aware gate); overrides governor and concurrency. */
  slots?: Slots;
  /** Attempts before an item ends `failed`. Default 4, at least 1. */
  maxAttempts?: number;
  /** Backoff between attempts of an item. Default 1 s doubling, capped at 60 s, full jitter. */
  backoff?: BackoffOptions;
  /** Most outcomes per commit transaction. Default 256. */
  commitBatch?: number;
  /** Longest an outcome waits before it is committed, ms. Default 100. */
  commitIntervalMs?: number;
  /** Lease length, ms; renewed by a heartbeat every third of it. Default 60,000. */
  leaseTtlMs?: number;
  /** How long items in hand may finish after a stop request, ms. Default 15,000. */
  graceMs?: number;
  /** How often progress events are emitted, ms. Default 1,000. */
  progressIntervalMs?: number;
  /** How a failing store call is retried before the run stops. Default 10 tries, 250 ms doubling to 10 s (about half a minute). */
  storeRetry?: { tries: number; backoff: BackoffOptions };
  /** Aborting it asks for a clean stop: no new claims, items in hand finish or are given back. */
  signal?: AbortSignal;
  /** Aborting it stops at once: items in hand are given back, not finished. */
  hardSignal?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
  /** The service's own request tries, for the governor (when the task makes requests). */
  observeRequests?: (listener: (o: RequestTry) => void) => () => void;
  /** Request counters of this process (requests, retries, throttled, ...), for the run's stats. */
  requestCounters?: () => Record<string, number>;
  clock?: Clock;
  random?: () => number;
}

export interface Progress {
  itemsTotal: number;
  itemsDone: number;
  itemsFailed: number;
  itemsLeased: number;
  bytesTotal: number;
  bytesDone: number;
  records: number;
  inFlight: number;
  /** Items allowed at once now (the governor's limit). */
  concurrency: number;
  retries: number;
  listingComplete: boolean;
  /** Live workers on the job, this one included. */
  workers: number;
  bytesPerSecond: number;
  recordsPerSecond: number;
  itemsPerSecond: number;
  etaSeconds: number | null;
  elapsedMs: number;
}

export type EngineEvent =
  | {
      type: 'start';
      job: string;
      source: string;
      owner: string;
      runId: number;
      reclaimed: number;
      resumed: boolean;
    }
  | { type: 'listed'; items: number; added: number; changed: number; complete: boolean }
  | { type: 'progress'; progress: Progress }
  | { type: 'retry'; id: string; attempts: number; error: string; delayMs: number }
  | { type: 'failed'; id: string; attempts: number; error: string }
  | { type: 'commit'; items: number; rejected: number; records: number }
  | { type: 'lost'; ids: string[] }
  | { type: 'waiting'; message: string }
  | { type: 'store-retry'; what: string; attempt: number; error: string; delayMs: number }
  | { type: 'stopping'; reason: string }
  | { type: 'concurrency'; from: number; to: number; reason: string; message: string }
  /** A decision of the task's own (a child stopped to spare memory, spawning backed off). */
  | { type: 'decision'; message: string };

/** What one run did (the store keeps these with the run). */
export interface RunCounters {
  /** Items finished and committed by this run. */
  processed: number;
  /** Items that ended failed in this run. */
  failed: number;
  /** Failed attempts that will be tried again. */
  retries: number;
  records: number;
  bytes: number;
  listed: number;
  added: number;
  changed: number;
  /** Outcomes the store refused because their lease had been taken over. */
  rejected: number;
  /** Items whose lease was lost while in hand (their work was stopped). */
  lost: number;
  /** Items given back without using an attempt (to spare the host). */
  requeued: number;
  /** Store calls that failed and were tried again. */
  storeRetries: number;
}

export interface RunSummary extends RunCounters {
  /** done: the job is complete; failed-items: complete but for failed items; interrupted: stopped. */
  outcome: 'done' | 'failed-items' | 'interrupted' | 'nothing-new';
  runId: number;
  owner: string;
  /** The source's request counters for this run: requests, retries, throttled, ... */
  requests: Record<string, number>;
  progress: Progress;
  /** The job's state when the run ended. */
  status: JobStatus;
}

/** Who holds a lease: host, process and a per-run nonce, so a dead local owner can be recognised. */
export function leaseOwner(): string {
  return `${os.hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

/** True when `owner` is a process on this host that no longer runs (its leases can be taken back now). */
export function ownerIsDead(owner: string, self: string): boolean {
  const [host, pidText] = owner.split('/');
  if (host !== os.hostname() || owner === self) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true; // an earlier run in this same process
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Failures that trying again cannot mend: a file that is not there, not readable, not a file. */
const PERMANENT_CODES = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP']);

export function isPermanent(error: unknown): boolean {
  if (error instanceof ItemError) return !error.transient;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && PERMANENT_CODES.has(code);
}

const DEFAULT_STORE_RETRY = { tries: 10, backoff: { baseMs: 250, capMs: 10_000 } };

export async function runJob(options: EngineOptions): Promise<RunSummary> {
  const { store, job, task } = options;
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const random = options.random ?? Math.random;
  const governor = options.governor;
  const slots: Slots = options.slots ?? governor ?? new Limiter(Math.max(1, options.concurrency ?? 8));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const commitBatch = Math.max(1, options.commitBatch ?? 256);
  const commitIntervalMs = Math.max(1, options.commitIntervalMs ?? 100);
  const leaseTtlMs = Math.max(1000, options.leaseTtlMs ?? 60_000);
  const graceMs = Math.max(0, options.graceMs ?? 15_000);
  const progressIntervalMs = Math.max(1, options.progressIntervalMs ?? 1000);
  const storeRetry = options.storeRetry ?? DEFAULT_STORE_RETRY;
  const emit = options.onEvent ?? (() => {});
  const owner = options.owner ?? leaseOwner();
  const startedAt = now();
  const group = task.runGroup ? task.groupLimits : undefined;

  const run: RunCounters = {
    processed: 0,
    failed: 0,
    retries: 0,
    records: 0,
    bytes: 0,
    listed: 0,
    added: 0,
    changed: 0,
    rejected: 0,
    lost: 0,
    requeued: 0,
    storeRetries: 0,
  };

  // Stopping: `stopping` ends claims; `hardStop` abandons the items in hand; `fatal` is the error
  // the run ends with (the store failed, or the task said the run cannot go on).
  let stopping = false;
  let hardStop = false;
  let fatal: unknown = null;
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = clock.setTimeout(
        () => {
          if (wake === done) wake = null;
          resolve();
        },
        ms,
        true,
      );
      const done = () => {
        clock.clearTimeout(timer);
        resolve();
      };
      wake = done;
    });

  /** A store call, tried again while it fails in a way that may pass; the run's error if it does not. */
  const storeCall = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof UsageError) throw error;
        const storeError =
          error instanceof StoreError
            ? error
            : new StoreError(`${what}: ${describe(error)}`, false, { cause: error });
        if (!storeError.retryable || attempt >= storeRetry.tries || hardStop) {
          throw new StoreError(
            `the store (${store.location}) failed ${attempt > 1 ? `${attempt} times in a row ` : ''}while ${what}: ${storeError.message}. ` +
              'Nothing is lost: items not committed run again. Fix the store and run the same command again to resume.',
            false,
            { cause: error },
          );
        }
        const delayMs = backoffDelay(attempt, storeRetry.backoff, random) + storeRetry.backoff.baseMs;
        run.storeRetries += 1;
        emit({ type: 'store-retry', what, attempt, error: storeError.message, delayMs });
        await new Promise<void>((resolve) => clock.setTimeout(resolve, delayMs, true));
      }
    }
  };

  const reclaimed = await storeCall('taking back the leases of dead local workers', () =>
    store.reclaimDead(job, (o) => ownerIsDead(o, owner)),
  );
  await storeCall('joining the job', () => store.heartbeat(job, owner, [], leaseTtlMs));
  const initial = await storeCall('reading the job', () => store.status(job));
  let snapshot: JobProgress = countsOf(initial);
  const before = snapshot;
  const runId = await storeCall('starting the run', () => store.startRun(job, owner, startedAt));
  const requestsAtStart = options.requestCounters?.() ?? {};
  const requestsThisRun = (): Record<string, number> => {
    const nowCounts = options.requestCounters?.() ?? {};
    return Object.fromEntries(Object.entries(nowCounts).map(([k, v]) => [k, v - (requestsAtStart[k] ?? 0)]));
  };
  emit({
    type: 'start',
    job,
    source: options.listing?.uri ?? initial.source,
    owner,
    runId,
    reclaimed,
    resumed: before.items.total > 0,
  });

  const queue: LeasedItem[] = [];
  const inFlight = new Map<string, { item: LeasedItem; abort: AbortController }>();
  const toCommit: CommitUnit[] = [];
  let toCommitItems = 0;
  const toFail: ItemFailure[] = [];
  const failedAttempts = new Map<string, number>();
  const toRelease: { id: string; fence: number }[] = [];
  // Leases lost (id and fence): the same item leased again later, with a new fence, is ours again.
  const lost = new Set<string>();
  const lease = (i: { id: string; fence: number }) => `${i.fence}:${i.id}`;

  let graceTimer: unknown;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    emit({ type: 'stopping', reason });
    graceTimer = clock.setTimeout(() => abortAll(), graceMs);
    wakeUp();
  };
  const abortAll = () => {
    hardStop = true;
    stop('stop requested');
    for (const flight of inFlight.values()) flight.abort.abort();
    wakeUp();
  };
  // The first failure says why the run stops (once, even when several calls meet the same broken store).
  let failed = false;
  const fail = (error: unknown, reason: string) => {
    fatal ??= error;
    if (!failed) {
      failed = true;
      if (stopping) emit({ type: 'stopping', reason });
      else stop(reason);
    }
    abortAll();
  };
  const onStop = () => stop('stop requested: finishing items in hand');
  options.signal?.addEventListener('abort', onStop, { once: true });
  options.hardSignal?.addEventListener('abort', abortAll, { once: true });
  if (options.signal?.aborted) onStop();
  if (options.hardSignal?.aborted) abortAll();

  // Commits and failures go to the store in batches, one flush at a time, in order.
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      if (fatal) return;
      if (toFail.length > 0) {
        const batch = toFail.splice(0, toFail.length);
        const states = await storeCall('recording failed attempts', () =>
          store.failItems(job, owner, batch, maxAttempts),
        );
        for (const f of batch) {
          const state = states.get(f.id);
          const attempts = failedAttempts.get(f.id) ?? 0;
          failedAttempts.delete(f.id);
          if (state === 'failed') {
            run.failed += 1;
            emit({ type: 'failed', id: f.id, attempts, error: f.error });
          } else if (state === 'retry') {
            run.retries += 1;
            emit({ type: 'retry', id: f.id, attempts, error: f.error, delayMs: f.delayMs });
          }
        }
      }
      if (toRelease.length > 0) {
        const batch = toRelease.splice(0, toRelease.length);
        await storeCall('giving items back', () => store.releaseItems(job, owner, batch));
      }
      if (toCommit.length === 0) return;
      const batch = toCommit.splice(0, toCommit.length);
      toCommitItems = 0;
      const { committed, rejected } = await storeCall('committing results', () =>
        store.commitResults(job, owner, batch),
      );
      // Counted only once the store has them: what a rejected unit did never happened.
      const refused = new Set(rejected);
      let records = 0;
      for (const unit of batch) {
        for (const item of unit.items) {
          if (refused.has(item.id)) continue;
          records += item.records;
          run.bytes += item.bytes;
        }
      }
      run.processed += committed;
      run.records += records;
      run.rejected += rejected.length;
      emit({ type: 'commit', items: committed, rejected: rejected.length, records });
      if (refused.size > 0) {
        // A unit is refused whole when any of its items was taken over before a heartbeat said so.
        // Which ones: the store says (renewing the rest); those lost are stopped and said, the rest
        // go back at once to be run again, not after their leases run out.
        const held = batch
          .flatMap((u) => u.items)
          .filter((o) => refused.has(o.id) && !lost.has(lease(o)))
          .map((o) => ({ id: o.id, fence: o.fence }));
        toRelease.push(...(await renew(held)));
      }
    });
    return flushing.catch((error) => fail(error, `store failed: ${describe(error)}`));
  };

  // Progress is the whole job's (every worker's), from the store, refreshed at most once a second.
  const jobRate = new RateEstimator(startedAt);
  const recordRate = new RateEstimator(startedAt);
  const itemRate = new RateEstimator(startedAt);
  let listingComplete = snapshot.listingComplete && !options.listing;
  let snapshotAt = startedAt;
  const progress = (): Progress => {
    const t = now();
    const s = snapshot;
    return {
      itemsTotal: s.items.total,
      itemsDone: s.items.done,
      itemsFailed: s.items.failed,
      itemsLeased: s.items.leased,
      bytesTotal: s.bytes.total,
      bytesDone: s.bytes.done,
      records: s.records,
      inFlight: inFlight.size,
      concurrency: slots.limit,
      retries: run.retries,
      listingComplete,
      workers: Math.max(1, s.workers),
      bytesPerSecond: jobRate.perSecond,
      recordsPerSecond: recordRate.perSecond,
      itemsPerSecond: itemRate.perSecond,
      etaSeconds: listingComplete
        ? itemRate.eta(t, Math.max(0, s.items.total - s.items.done - s.items.failed))
        : null,
      elapsedMs: t - startedAt,
    };
  };
  // The counts are a scan of the job's items (~35 ms for 200,000 on PostgreSQL), read by every
  // worker: read again no sooner than 50 times what the last read took, so however large the job,
  // a worker's progress costs the store at most ~2 % of its time.
  const refreshAtMostMs = Math.min(1000, progressIntervalMs);
  let refreshEveryMs = refreshAtMostMs;
  const refresh = async () => {
    const asked = now();
    snapshot = await storeCall('reading progress', () => store.progress(job));
    snapshotAt = now();
    refreshEveryMs = Math.max(refreshAtMostMs, Math.min(60_000, 50 * (snapshotAt - asked)));
    if (snapshot.listingComplete) listingComplete = true;
    jobRate.update(snapshotAt, snapshot.bytes.done - before.bytes.done);
    recordRate.update(snapshotAt, snapshot.records - before.records);
    itemRate.update(snapshotAt, snapshot.items.done - before.items.done);
  };

  let lastProgress = startedAt;
  let refreshing = false;
  const stopTicker = every(clock, Math.min(progressIntervalMs, commitIntervalMs), () => {
    void flush();
    const t = now();
    if (t - lastProgress < progressIntervalMs || refreshing || fatal) return;
    lastProgress = t;
    refreshing = true;
    void (t - snapshotAt >= refreshEveryMs ? refresh() : Promise.resolve())
      .then(() => emit({ type: 'progress', progress: progress() }))
      .catch((error) => fail(error, `store failed: ${describe(error)}`))
      .finally(() => {
        refreshing = false;
      });
  });

  // Heartbeat: renews every lease this worker holds (and its listing), and stops what it lost.
  let holdsListing = false;
  const held = (): { id: string; fence: number }[] => [
    ...queue.map((i) => ({ id: i.id, fence: i.fence })),
    ...[...inFlight.values()].map((f) => ({ id: f.item.id, fence: f.item.fence })),
    ...toCommit.flatMap((u) => u.items.map((o) => ({ id: o.id, fence: o.fence }))),
  ];
  const loseItems = (leases: { id: string; fence: number }[]) => {
    if (leases.length === 0) return;
    for (const l of leases) lost.add(lease(l));
    run.lost += leases.length;
    emit({ type: 'lost', ids: leases.map((l) => l.id) });
    for (let i = queue.length - 1; i >= 0; i--)
      if (lost.has(lease(queue[i] as LeasedItem))) queue.splice(i, 1);
    for (const f of inFlight.values()) if (lost.has(lease(f.item))) f.abort.abort();
    for (let i = toCommit.length - 1; i >= 0; i--) {
      const unit = toCommit[i] as CommitUnit;
      if (unit.items.some((o) => lost.has(lease(o)))) {
        toCommit.splice(i, 1);
        toCommitItems -= unit.items.length;
      }
    }
  };
  /** Renews leases; stops and says those the store says are lost. The ones still held, back. */
  const renew = async (holding: { id: string; fence: number }[]) => {
    const { lost: ids } = await storeCall('renewing leases', () =>
      store.heartbeat(job, owner, holding, leaseTtlMs),
    );
    const gone = new Set(ids);
    loseItems(holding.filter((l) => gone.has(l.id)));
    return holding.filter((l) => !gone.has(l.id));
  };
  let beating = false;
  const stopHeartbeat = every(clock, Math.max(250, Math.floor(leaseTtlMs / 3)), () => {
    if (beating || fatal) return;
    beating = true;
    void renew(held())
      .catch((error) => fail(error, `store failed: ${describe(error)}`))
      .finally(() => {
        beating = false;
      });
  });

  // Listing: one worker of many lists (the store says which); the others work on what is listed.
  const listAbort = new AbortController();
  const listing = (async () => {
    const source = options.listing;
    if (!source) return;
    while (!stopping && !listingComplete) {
      holdsListing = await storeCall('claiming the listing', () =>
        store.claimListing(job, owner, leaseTtlMs),
      );
      if (holdsListing) break;
      // Another worker lists: wait for it (or for its hold to expire, then take over).
      await nap(Math.min(2000, leaseTtlMs / 2));
      await refresh();
    }
    if (!holdsListing || stopping) return;
    const cursor = (await storeCall('reading the job', () => store.listJobs())).find(
      (j) => j.name === job,
    )?.listCursor;
    let batch: NewItem[] = [];
    let savedAt = Number.NEGATIVE_INFINITY;
    const save = async () => {
      const items = batch;
      batch = [];
      savedAt = now();
      const result = await storeCall('recording listed items', () =>
        store.addItems(job, items, items.at(-1)?.id),
      );
      run.listed += items.length;
      run.added += result.added;
      run.changed += result.changed;
      emit({ type: 'listed', items: run.listed, added: run.added, changed: run.changed, complete: false });
      wakeUp();
    };
    const items = source.list(cursor ?? undefined, listAbort.signal)[Symbol.asyncIterator]();
    for (;;) {
      const next = items.next();
      // When the listing pauses (its next page is a request away), what it has is saved unless a save
      // was made lately: the first page's items are worked on while the rest is listed.
      if (batch.length > 0 && now() - savedAt >= LISTING_FLUSH_MS && (await pausesOn(next))) await save();
      const step = await next;
      if (step.done || stopping) break;
      batch.push(step.value);
      if (batch.length >= 500) await save();
    }
    await items.return?.(undefined); // closes the source's listing when stopped early, as a for-await would
    if (stopping) return;
    if (batch.length > 0) await save();
    await storeCall('marking the listing complete', () => store.markListed(job, owner));
    holdsListing = false;
    listingComplete = true;
    emit({ type: 'listed', items: run.listed, added: run.added, changed: run.changed, complete: true });
  })()
    .catch((error) => {
      if (listAbort.signal.aborted) return; // a stop ended the listing: not a failure of the listing
      if (error instanceof StoreError || error instanceof UsageError) fail(error, describe(error));
      else
        fail(new UsageError(`listing ${options.listing?.uri} failed: ${describe(error)}`), 'listing failed');
    })
    .finally(wakeUp);
  options.signal?.addEventListener('abort', () => listAbort.abort(), { once: true });

  let claiming: Promise<void> | null = null;
  const claim = async () => {
    // Enough to keep every slot busy until the next claim (made when the queue runs dry and a slot
    // is free, while the other slots' items still run), and no more: what one worker holds queued,
    // the others cannot have, and at the end of a shared job that is the tail everyone waits for
    // (twice the limit left up to two rounds of items queued on one worker while others idled).
    // Groups of small files need more at once.
    const want = group
      ? Math.max(slots.limit * 2, group.items * 2)
      : Math.max(slots.limit + Math.ceil(slots.limit / 4), 4);
    const items = await storeCall('claiming items', () =>
      store.leaseItems(job, owner, Math.min(256, want), leaseTtlMs),
    );
    queue.push(...items);
    if (task.prepare) for (const item of items) task.prepare(item);
  };

  let waitingSaid = '';
  const nextItem = async (): Promise<LeasedItem | null> => {
    while (!stopping) {
      const item = queue.shift();
      if (item) return item;
      claiming ??= claim().finally(() => {
        claiming = null;
      });
      try {
        await claiming;
      } catch (error) {
        fail(error, `store failed: ${describe(error)}`);
        return null;
      }
      if (queue.length > 0) continue;
      const mine = inFlight.size + toCommitItems;
      if (mine > 0 || toFail.length > 0) {
        // Items in hand may yet fail and come back: wait for them before deciding we are done (an
        // item that ends cuts the wait short). Once none runs, what is left is to write down.
        if (inFlight.size === 0) await flush();
        else await nap(Math.min(200, commitIntervalMs * 2));
        continue;
      }
      let left: Awaited<ReturnType<Store['workLeft']>>;
      try {
        left = await storeCall('checking what is left', () => store.workLeft(job));
      } catch (error) {
        fail(error, `store failed: ${describe(error)}`);
        return null;
      }
      if (listingComplete && left.ready === 0 && left.waiting === 0 && left.leased === 0) return null;
      if (left.leased > 0 && left.ready === 0) {
        const message = `waiting for ${left.leased} item${left.leased === 1 ? '' : 's'} leased by other workers${
          left.nextInMs !== null
            ? ` (the next lease ends within ${Math.ceil(left.nextInMs / 1000)} s unless renewed)`
            : ''
        }`;
        if (message !== waitingSaid) {
          waitingSaid = message;
          emit({ type: 'waiting', message });
        }
      }
      // Polled often: at the end of a shared job every worker waits here for the others' last
      // items, and the job is done only when the last of them sees it (a light query).
      // While another worker lists, what it adds may come any moment: look again soon.
      // Every 100 ms at most: the job ends for this worker only when it sees the others' last commit.
      const wait =
        left.nextInMs !== null ? Math.max(10, Math.min(100, left.nextInMs + 5)) : listingComplete ? 100 : 50;
      await nap(wait);
    }
    return null;
  };

  const toOutcome = (item: LeasedItem, o: Omit<Outcome, 'delta'>, itemStartedAt: number): ItemOutcome => ({
    id: item.id,
    fence: item.fence,
    checkpoint: o.checkpoint,
    covered: o.covered,
    records: o.records,
    bytes: o.bytes,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.result !== undefined ? { result: o.result } : {}),
    startedAt: itemStartedAt,
    finishedAt: now(),
  });

  const recordFailure = (item: LeasedItem, error: unknown, permanent = isPermanent(error)) => {
    const attempts = item.attempts + 1;
    const retryAfter = error instanceof ItemError ? error.retryAfterMs : undefined;
    const detail = error instanceof ItemError ? error.detail : undefined;
    failedAttempts.set(item.id, attempts);
    toFail.push({
      id: item.id,
      fence: item.fence,
      error: describe(error),
      delayMs: backoffDelay(attempts, backoff, random, retryAfter),
      ...(permanent ? { permanent: true } : {}),
      ...(detail?.result !== undefined ? { result: detail.result as Outcome['result'] } : {}),
      ...(detail?.metrics ? { metrics: detail.metrics } : {}),
    });
  };

  /** Runs one item, or a group, to outcomes queued for commit or failures queued. True when all went well. */
  const processItems = async (items: LeasedItem[]): Promise<boolean> => {
    const abort = new AbortController();
    for (const item of items) inFlight.set(item.id, { item, abort });
    const itemStartedAt = now();
    let ok = true;
    try {
      if (items.length > 1 || (group && task.runGroup)) {
        const result = await (task.runGroup as NonNullable<Task['runGroup']>)(items, abort.signal);
        if (hardStop) throw new Abandoned();
        const byId = new Map(items.map((i) => [i.id, i]));
        const finished: ItemOutcome[] = [];
        for (const r of result.items) {
          const item = byId.get(r.id) as LeasedItem;
          if (lost.has(lease(item))) continue;
          if ('error' in r) {
            ok = false;
            recordFailure(item, new Error(r.error), r.permanent === true);
          } else {
            finished.push(toOutcome(item, r, itemStartedAt));
          }
        }
        // A group's delta cannot be split: if any of it was lost, none of it commits.
        if (finished.length > 0 && !items.some((i) => lost.has(lease(i)))) {
          toCommit.push({ items: finished, delta: result.delta });
          toCommitItems += finished.length;
        }
      } else {
        const item = items[0] as LeasedItem;
        const result = await task.run(item, abort.signal);
        if (hardStop) throw new Abandoned();
        if (!lost.has(lease(item))) {
          const { delta, ...rest } = result;
          toCommit.push({ items: [toOutcome(item, rest, itemStartedAt)], ...(delta ? { delta } : {}) });
          toCommitItems += 1;
        }
      }
      if (toCommitItems >= commitBatch) void flush();
      return ok;
    } catch (error) {
      const mine = items.filter((i) => !lost.has(lease(i)));
      if (
        hardStop ||
        error instanceof Abandoned ||
        error instanceof UsageError ||
        error instanceof ItemRequeued
      ) {
        // Not the items' fault: give them back untouched, no attempt used.
        toRelease.push(...mine.map((i) => ({ id: i.id, fence: i.fence })));
        if (error instanceof ItemRequeued) {
          run.requeued += mine.length;
          emit({
            type: 'decision',
            message: `${mine.map((i) => i.id).join(', ')} given back: ${error.message}`,
          });
        }
        if (error instanceof UsageError) fail(error, error.message);
        return false;
      }
      for (const item of mine) recordFailure(item, error);
      wakeUp();
      return false;
    } finally {
      // Only its own entry: a lost item may have been leased again meanwhile, under a new fence.
      for (const item of items) if (inFlight.get(item.id)?.item === item) inFlight.delete(item.id);
      // The dispatcher may be waiting for the items in hand to end before it decides what is left.
      wakeUp();
    }
  };

  // What the governor hears: every request try when the task reports them (the service's own
  // latency and push-back), else every item (its duration, failed or not).
  const stopObserving = governor && options.observeRequests?.((o) => governor.observe(o));
  const onChange = (c: LimitChange) => {
    const message = describeChange(c);
    emit({ type: 'concurrency', from: c.from, to: c.to, reason: c.reason, message });
    void store.addRunEvent(runId, c.at, message).catch(() => {});
  };
  governor?.events.on('change', onChange);

  // The dispatcher: one item (or group) per free slot, as many slots as the limit allows now.
  const running = new Set<Promise<void>>();
  const dispatchAbort = new AbortController();
  const stopDispatch = () => dispatchAbort.abort();
  options.signal?.addEventListener('abort', stopDispatch, { once: true });
  options.hardSignal?.addEventListener('abort', stopDispatch, { once: true });
  for (;;) {
    if (stopping) break;
    let release: () => void;
    try {
      release = await slots.acquire(dispatchAbort.signal);
    } catch {
      break; // stopping: no new items
    }
    const item = await nextItem();
    if (!item) {
      release();
      break;
    }
    const batch = [item];
    if (group) {
      let size = item.size;
      while (batch.length < group.items && size < group.bytes && queue.length > 0) {
        const next = queue.shift() as LeasedItem;
        batch.push(next);
        size += next.size;
      }
    }
    const started = now();
    const work = processItems(batch).then((ok) => {
      release();
      if (governor && !stopObserving)
        governor.observe({ rttMs: now() - started, outcome: ok ? 'ok' : 'error' });
    });
    running.add(work);
    void work.finally(() => running.delete(work));
  }
  if (fatal) abortAll();
  await Promise.all(running);
  options.signal?.removeEventListener('abort', stopDispatch);
  options.hardSignal?.removeEventListener('abort', stopDispatch);
  stopObserving?.();
  governor?.events.off('change', onChange);
  clock.clearTimeout(graceTimer);
  listAbort.abort();
  await listing;
  stopTicker();
  stopHeartbeat();
  await flush();
  const unfinished = queue.splice(0, queue.length).map((i) => ({ id: i.id, fence: i.fence }));
  if (!fatal) {
    toRelease.push(...unfinished);
    await flush();
  } else if (fatal instanceof UsageError) {
    // The store works: give the items back so the next run does not wait out their leases.
    await store.releaseItems(job, owner, [...unfinished, ...toRelease]).catch(() => {});
  }
  options.signal?.removeEventListener('abort', onStop);
  options.hardSignal?.removeEventListener('abort', abortAll);

  const stats = {
    ...run,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    ...Object.fromEntries(Object.entries(requestsThisRun()).map(([k, v]) => [`http.${k}`, v])),
  };
  if (fatal) {
    // Best effort: the store may be what failed.
    await store.endRun(runId, 'error', stats, now()).catch(() => {});
    await store.leaveJob(job, owner).catch(() => {});
    throw fatal;
  }
  await storeCall('ending the run', () => store.leaveJob(job, owner));
  const s = await storeCall('reading the job', () => store.status(job));
  snapshot = countsOf(s);
  const final = progress();
  emit({ type: 'progress', progress: final });
  const complete = s.listingComplete && s.items.pending === 0 && s.items.leased === 0;
  const outcome: RunSummary['outcome'] =
    stopping || !complete
      ? 'interrupted'
      : s.items.failed > 0
        ? 'failed-items'
        : run.processed === 0 && run.added === 0 && run.changed === 0 && run.retries === 0
          ? 'nothing-new'
          : 'done';
  await storeCall('ending the run', () => store.endRun(runId, outcome, stats, now()));
  return { outcome, runId, owner, ...run, requests: requestsThisRun(), progress: final, status: s };
}

/** A status's counts, as `Store.progress` reads them. */
function countsOf(s: JobStatus): JobProgress {
  return {
    listingComplete: s.listingComplete,
    items: s.items,
    bytes: s.bytes,
    records: s.records,
    workers: s.workers.filter((w) => !w.stale).length,
  };
}

/** Work abandoned at a hard stop: its items go back untouched. */
class Abandoned extends Error {}

/** Listed items are saved at least this often while the listing pauses for its next page. */
const LISTING_FLUSH_MS = 100;

/** Whether `next` is still pending after the microtasks run: the iterator is waiting for I/O. */
function pausesOn(next: Promise<unknown>): Promise<boolean> {
  return Promise.race([
    next.then(
      () => false,
      () => false,
    ),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(true))),
  ]);
}
