// The engine: lists a source into the store while it claims items in batches, runs the task on
// each, commits results in batches (one transaction each), retries failures with backoff, and
// stops cleanly on a signal. It never holds the listing, only the items it has claimed.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { ItemError, UsageError } from '../errors.js';
import type { Source } from '../sources/types.js';
import type { TimeWindow } from '../sources/window.js';
import type { CommitUnit, ItemDone, LeasedItem, Store } from '../store/types.js';
import type { Task } from '../tasks/types.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { describeChange, type Governor, type LimitChange } from './governor/index.js';
import { Limiter } from './governor/limiter.js';
import { RateEstimator } from './rate.js';

/** Most local files parsed as one job, and their most bytes (a group stops growing past it). */
const GROUP_ITEMS = 32;
const GROUP_BYTES = 8 << 20;

export interface IngestOptions {
  store: Store;
  job: string;
  source: Source;
  task: Task;
  window?: TimeWindow;
  /** Which listed ids are items (e.g. a glob matcher); all when absent. */
  include?: (id: string) => boolean;
  /** Decides how many items run at once, from the service's and the host's signals. */
  governor?: Governor;
  /** Items processed at once when there is no governor (a fixed limit). */
  concurrency?: number;
  /** Attempts before an item ends `failed`. */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Results committed per transaction (at most). */
  commitBatch?: number;
  /** Longest wait before results are committed, ms. */
  commitIntervalMs?: number;
  /** Lease length, ms; renewed every third of it while the item is in hand. */
  leaseTtlMs?: number;
  /** How long in-flight items may finish after a stop request before they are abandoned, ms. */
  graceMs?: number;
  /** Aborting it asks for a clean stop: no new claims, in-flight items finish or are released. */
  signal?: AbortSignal;
  /** Aborting it stops at once: in-flight items are released, not finished. */
  hardSignal?: AbortSignal;
  onEvent?: (event: IngestEvent) => void;
  /** Progress events at most this often, ms. */
  progressIntervalMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface Progress {
  itemsTotal: number;
  itemsDone: number;
  itemsFailed: number;
  bytesTotal: number;
  bytesDone: number;
  records: number;
  inFlight: number;
  /** Items allowed at once now (the governor's limit). */
  concurrency: number;
  retries: number;
  listingComplete: boolean;
  bytesPerSecond: number;
  recordsPerSecond: number;
  etaSeconds: number | null;
  elapsedMs: number;
}

export type IngestEvent =
  | { type: 'start'; job: string; source: string; owner: string; reclaimed: number; resumed: boolean }
  | { type: 'listed'; items: number; added: number; grown: number; complete: boolean }
  | { type: 'progress'; progress: Progress }
  | { type: 'retry'; id: string; attempts: number; error: string; delayMs: number }
  | { type: 'failed'; id: string; attempts: number; error: string }
  | { type: 'commit'; items: number; rejected: number; records: number }
  | { type: 'stopping'; reason: string }
  | { type: 'concurrency'; from: number; to: number; reason: string; message: string };

/** What one run did (the store keeps these with the run). */
export interface RunCounters {
  /** Items finished and committed. */
  processed: number;
  /** Items that ended failed. */
  failed: number;
  /** Failed attempts that will be tried again. */
  retries: number;
  records: number;
  bytes: number;
  listed: number;
  added: number;
  grown: number;
}

export interface IngestSummary extends RunCounters {
  outcome: 'done' | 'failed-items' | 'interrupted' | 'nothing-new';
  runId: number;
  /** The source's request counters for this run (HTTP sources): requests, retries, throttled, ... */
  requests: Record<string, number>;
  progress: Progress;
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

export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const { store, job, source, task } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const governor = options.governor;
  const useGroups = Boolean(source.localPath && task.processFiles);
  const slots = governor ?? new Limiter(Math.max(1, options.concurrency ?? 8));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const commitBatch = options.commitBatch ?? 256;
  const commitIntervalMs = options.commitIntervalMs ?? 500;
  const leaseTtlMs = options.leaseTtlMs ?? 60_000;
  const graceMs = options.graceMs ?? 15_000;
  const progressIntervalMs = options.progressIntervalMs ?? 1000;
  const emit = options.onEvent ?? (() => {});
  const owner = leaseOwner();
  const startedAt = now();

  const reclaimed = await store.reclaimLeases(job, now(), (o) => ownerIsDead(o, owner));
  const listCursor = (await store.listJobs()).find((j) => j.name === job)?.listCursor ?? undefined;
  const before = await store.status(job);
  const runId = await store.startRun(job, owner, startedAt);
  const requestsAtStart = source.requestCounters?.() ?? {};
  /** What the source's requests did during this run (retries, throttled, timeouts...). */
  const requestsThisRun = (): Record<string, number> => {
    const nowCounts = source.requestCounters?.() ?? {};
    return Object.fromEntries(Object.entries(nowCounts).map(([k, v]) => [k, v - (requestsAtStart[k] ?? 0)]));
  };
  emit({ type: 'start', job, source: source.uri, owner, reclaimed, resumed: before.items.total > 0 });

  // Counters for this run, on top of the store's state when it started.
  const run: RunCounters = {
    processed: 0,
    failed: 0,
    retries: 0,
    records: 0,
    bytes: 0,
    listed: 0,
    added: 0,
    grown: 0,
  };
  let itemsTotal = before.items.total;
  let bytesTotal = before.bytes.total;
  let listingComplete = false;
  const rate = new RateEstimator(startedAt);
  const recordRate = new RateEstimator(startedAt);

  const queue: LeasedItem[] = [];
  const inFlight = new Map<string, { item: LeasedItem; abort: AbortController }>();
  const toCommit: CommitUnit[] = [];
  let toCommitItems = 0;
  const abandoned: string[] = [];
  let stopping = false;
  let hardStop = false;
  let fatal: unknown = null;
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    wake?.();
    wake = null;
  };
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  let graceTimer: NodeJS.Timeout | undefined;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    emit({ type: 'stopping', reason });
    // In-flight items get `graceMs` to finish; then they are abandoned and released.
    graceTimer = setTimeout(() => abortAll(), graceMs);
    graceTimer.unref();
    wakeUp();
  };
  const abortAll = () => {
    hardStop = true;
    stop('stop requested');
    for (const flight of inFlight.values()) flight.abort.abort();
  };
  const onStop = () => stop('stop requested: finishing items in hand');
  options.signal?.addEventListener('abort', onStop, { once: true });
  options.hardSignal?.addEventListener('abort', abortAll, { once: true });
  if (options.signal?.aborted) onStop();
  if (options.hardSignal?.aborted) abortAll();

  let committing: Promise<void> = Promise.resolve();
  const flush = () => {
    committing = committing.then(async () => {
      if (toCommit.length === 0) return;
      const batch = toCommit.splice(0, toCommit.length);
      toCommitItems = 0;
      const { committed, rejected } = await store.commitResults(job, owner, batch);
      let records = 0;
      for (const unit of batch) for (const item of unit.items) records += item.records;
      emit({ type: 'commit', items: committed, rejected, records });
    });
    return committing;
  };

  const progress = (): Progress => {
    const t = now();
    const bytesDone = before.bytes.done + run.bytes;
    return {
      itemsTotal,
      itemsDone: before.items.done + run.processed,
      itemsFailed: before.items.failed + run.failed,
      bytesTotal,
      bytesDone,
      records: before.records + run.records,
      inFlight: inFlight.size,
      concurrency: slots.limit,
      retries: run.retries,
      listingComplete,
      bytesPerSecond: rate.perSecond,
      recordsPerSecond: recordRate.perSecond,
      etaSeconds: listingComplete ? rate.eta(t, Math.max(0, bytesTotal - bytesDone)) : null,
      elapsedMs: t - startedAt,
    };
  };

  const ticker = setInterval(
    () => {
      const t = now();
      rate.update(t, run.bytes);
      recordRate.update(t, run.records);
      void flush().catch((error) => {
        fatal ??= error;
        stop(`commit failed: ${describe(error)}`);
      });
      emit({ type: 'progress', progress: progress() });
    },
    Math.min(progressIntervalMs, commitIntervalMs),
  );
  ticker.unref();

  const heartbeat = setInterval(
    () => {
      const held = [
        ...queue.map((i) => i.id),
        ...inFlight.keys(),
        ...toCommit.flatMap((u) => u.items.map((o) => o.id)),
      ];
      if (held.length > 0) void store.renewLeases(job, owner, held, leaseTtlMs, now()).catch(() => {});
    },
    Math.max(1000, Math.floor(leaseTtlMs / 3)),
  );
  heartbeat.unref();

  const listing = (async () => {
    const listAbort = new AbortController();
    const abortListing = () => listAbort.abort();
    options.signal?.addEventListener('abort', abortListing, { once: true });
    let batch: Parameters<Store['addItems']>[1] = [];
    const save = async () => {
      const result = await store.addItems(job, batch, batch.at(-1)?.id);
      run.listed += batch.length;
      run.added += result.added;
      run.grown += result.grown;
      itemsTotal += result.added;
      bytesTotal += result.bytesAdded;
      batch = [];
      emit({ type: 'listed', items: run.listed, added: run.added, grown: run.grown, complete: false });
      wakeUp();
    };
    try {
      for await (const ref of source.list({
        ...(options.window ? { window: options.window } : {}),
        ...(listCursor !== undefined ? { after: listCursor } : {}),
        signal: listAbort.signal,
      })) {
        if (stopping) break;
        if (options.include && !options.include(ref.id)) continue;
        batch.push(ref);
        if (batch.length >= 500) await save();
      }
      if (!stopping) {
        if (batch.length > 0) await save();
        await store.markListed(job, now());
        listingComplete = true;
        emit({ type: 'listed', items: run.listed, added: run.added, grown: run.grown, complete: true });
      }
    } catch (error) {
      fatal ??=
        error instanceof UsageError
          ? error
          : new UsageError(`listing ${source.uri} failed: ${describe(error)}`);
      stop('listing failed');
    } finally {
      options.signal?.removeEventListener('abort', abortListing);
      wakeUp();
    }
  })();

  let leasing: Promise<void> | null = null;
  const claim = async () => {
    const items = await store.leaseItems(
      job,
      owner,
      Math.min(256, Math.max(slots.limit * 2, 32)),
      leaseTtlMs,
      now(),
    );
    queue.push(...items);
  };

  const nextItem = async (): Promise<LeasedItem | null> => {
    while (!stopping) {
      const item = queue.shift();
      if (item) return item;
      if (!leasing) {
        leasing = claim().finally(() => {
          leasing = null;
        });
      }
      await leasing;
      if (queue.length > 0) continue;
      const work = await store.hasWork(job, now());
      if (listingComplete && work.ready === 0 && work.waiting === 0 && inFlight.size === 0) return null;
      const wait =
        work.waiting > 0 && work.nextAt !== null ? Math.max(10, Math.min(500, work.nextAt - now())) : 200;
      await nap(wait);
    }
    return null;
  };

  /** Records a failed attempt of `item`: retried after a backoff, or failed for good. */
  const recordFailure = async (item: LeasedItem, error: unknown) => {
    const message = describe(error);
    const attempts = item.attempts + 1;
    const retryAfter = error instanceof ItemError ? error.retryAfterMs : undefined;
    const delayMs = backoffDelay(attempts, backoff, random, retryAfter);
    const state = await store.failItem(job, owner, item, message, {
      notBefore: now() + delayMs,
      maxAttempts,
    });
    if (state === 'failed') {
      run.failed += 1;
      emit({ type: 'failed', id: item.id, attempts, error: message });
    } else {
      run.retries += 1;
      emit({ type: 'retry', id: item.id, attempts, error: message, delayMs });
    }
  };

  const done = (
    item: LeasedItem,
    r: { resume: ItemDone['resume']; records: number; bytes: number },
    startedAt: number,
  ): ItemDone => {
    run.processed += 1;
    run.records += r.records;
    run.bytes += r.bytes;
    return {
      id: item.id,
      fence: item.fence,
      resume: r.resume,
      readEnd: item.resume.offset + r.bytes,
      records: r.records,
      bytes: r.bytes,
      startedAt,
      finishedAt: now(),
    };
  };

  /**
   * Runs one item, or a group of local files as one job, to results queued for commit (a group
   * commits as one unit) or recorded failures. True when every item succeeded.
   */
  const processItems = async (items: LeasedItem[]): Promise<boolean> => {
    const abort = new AbortController();
    for (const item of items) inFlight.set(item.id, { item, abort });
    const startedAt = now();
    let ok = true;
    try {
      const grouped = items.length > 1 || useGroups;
      if (grouped && task.processFiles && source.localPath) {
        const paths = new Map(items.map((i) => [i.id, i]));
        const result = await task.processFiles(
          items.map((i) => ({ id: i.id, path: source.localPath?.(i.id) as string, resume: i.resume })),
          abort.signal,
        );
        if (hardStop) throw new Error('abandoned at stop');
        const finished: ItemDone[] = [];
        for (const r of result.items) {
          const item = paths.get(r.id) as LeasedItem;
          if ('error' in r) {
            ok = false;
            await recordFailure(item, new Error(r.error));
          } else {
            finished.push(done(item, r, startedAt));
          }
        }
        if (finished.length > 0) toCommit.push({ items: finished, delta: result.delta });
        toCommitItems += finished.length;
      } else {
        const item = items[0] as LeasedItem;
        const result = await task.process({ source, id: item.id, resume: item.resume, signal: abort.signal });
        if (hardStop) throw new Error('abandoned at stop');
        toCommit.push({ items: [done(item, result, startedAt)], delta: result.delta });
        toCommitItems += 1;
      }
      if (toCommitItems >= commitBatch) await flush();
      return ok;
    } catch (error) {
      if (hardStop || error instanceof UsageError) {
        // Not the items' fault: give them back untouched (no attempt counted).
        abandoned.push(...items.map((i) => i.id));
        if (error instanceof UsageError) {
          fatal ??= error;
          stop(error.message);
        }
        return false;
      }
      for (const item of items) await recordFailure(item, error);
      wakeUp();
      return false;
    } finally {
      for (const item of items) inFlight.delete(item.id);
    }
  };

  // What the governor hears: every request try when the source reports them (the service's own
  // latency and push-back), else every item (its duration, failed or not).
  const stopObserving = governor && source.observeRequests?.((o) => governor.observe(o));
  const onChange = (c: LimitChange) => {
    const message = describeChange(c);
    emit({ type: 'concurrency', from: c.from, to: c.to, reason: c.reason, message });
    void store.addRunEvent(runId, c.at, message).catch(() => {});
  };
  governor?.events.on('change', onChange);

  // The dispatcher: one item per free slot, as many slots as the limit allows at the moment.
  const running = new Set<Promise<void>>();
  const dispatchAbort = new AbortController();
  const stopDispatch = () => dispatchAbort.abort();
  options.signal?.addEventListener('abort', stopDispatch, { once: true });
  for (;;) {
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
    // Small local files go to the parser in groups: one job, one result, one commit unit.
    const group = [item];
    if (useGroups) {
      let bytes = item.size;
      while (group.length < GROUP_ITEMS && bytes < GROUP_BYTES && queue.length > 0) {
        const next = queue.shift() as LeasedItem;
        group.push(next);
        bytes += next.size;
      }
    }
    const started = now();
    const work = processItems(group).then((ok) => {
      release();
      if (governor && !stopObserving)
        governor.observe({ rttMs: now() - started, outcome: ok ? 'ok' : 'error' });
    });
    running.add(work);
    void work.finally(() => running.delete(work));
  }
  await Promise.all(running);
  options.signal?.removeEventListener('abort', stopDispatch);
  stopObserving?.();
  governor?.events.off('change', onChange);
  clearTimeout(graceTimer);
  await listing;
  clearInterval(ticker);
  clearInterval(heartbeat);
  await flush();
  const unfinished = [...queue.map((i) => i.id), ...inFlight.keys(), ...abandoned];
  queue.length = 0;
  if (unfinished.length > 0) await store.releaseItems(job, owner, unfinished);
  options.signal?.removeEventListener('abort', onStop);
  options.hardSignal?.removeEventListener('abort', abortAll);

  const final = progress();
  emit({ type: 'progress', progress: final });
  const interrupted = stopping && fatal === null;
  const failedNow = (await store.status(job)).items.failed;
  const outcome: IngestSummary['outcome'] = interrupted
    ? 'interrupted'
    : failedNow > 0
      ? 'failed-items'
      : run.processed === 0 && run.added === 0 && run.grown === 0 && run.retries === 0
        ? 'nothing-new'
        : 'done';
  await store.endRun(
    runId,
    fatal ? 'error' : outcome,
    {
      ...run,
      // Highest resident memory of this process so far (worker threads included), bytes.
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      ...Object.fromEntries(Object.entries(requestsThisRun()).map(([k, v]) => [`http.${k}`, v])),
    },
    now(),
  );
  if (fatal) throw fatal;
  return {
    outcome,
    runId,
    ...run,
    requests: requestsThisRun(),
    progress: final,
  };
}
