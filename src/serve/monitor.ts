// What `sluice serve` shows: every job of a store (the most recent first, capped) read every
// second, with rate and ETA from the done counts it has seen; a change of anything is an event.
// It only reads, so it works as well on a PostgreSQL store while the workers run elsewhere.
import { EventEmitter } from 'node:events';
import type { JobStatus, Store, WorkerStatus } from '../store/types.js';

export interface MonitorOptions {
  /** Milliseconds between reads of the store. Default 1000, at least 100. */
  pollMs?: number;
  /** Jobs shown and measured: the most recently run ones (bounds the page and the metrics' labels). Default 50. */
  maxJobs?: number;
  /** The rate is measured over this window, ms. Default 60,000. */
  rateWindowMs?: number;
  /** Milliseconds now. Default Date.now. */
  now?: () => number;
}

export const MONITOR_DEFAULTS = { pollMs: 1000, maxJobs: 50, rateWindowMs: 60_000 } as const;

/** One job as the page and the metrics see it (its first 10 failures, 20 events, 10 runs). */
export interface JobSnapshot extends JobStatus {
  /** Items done per second lately (null: not measured yet). */
  rate: number | null;
  /** Seconds left at that rate (null: unknown, or nothing left). */
  etaSeconds: number | null;
  /** The concurrency limit the latest decision set, when one was recorded. */
  concurrency: number | null;
}

export interface Snapshot {
  /** When it was read, ms since the epoch (the server's clock). */
  at: number;
  store: string;
  jobs: JobSnapshot[];
  /** Why the last read failed (the page keeps the previous figures and says so). */
  error: string | null;
}

/**
 * A concurrency decision as the governor words it (`concurrency 64 -> 44: 503 ServerBusy x3`), or
 * the child gate of `run` (`children 8 -> 6: memory 81 % > 75 %`), else null.
 */
export function concurrencyChange(message: string): { from: number; to: number } | null {
  const m = /^(?:concurrency|children) (\d+) -> (\d+)/.exec(message);
  return m ? { from: Number(m[1]), to: Number(m[2]) } : null;
}

/** A worker as the page and metrics count it: live, stale (silent past its lease) or left. */
export function workerState(w: WorkerStatus): 'live' | 'stale' | 'left' {
  return w.left ? 'left' : w.stale ? 'stale' : 'live';
}

/** The limit set by the newest concurrency decision among `events` (newest first). */
export function currentConcurrency(events: JobStatus['events']): number | null {
  for (const e of events) {
    const change = concurrencyChange(e.message);
    if (change) return change.to;
  }
  return null;
}

export class Monitor extends EventEmitter<{ change: [Snapshot] }> {
  readonly #store: Store;
  readonly #pollMs: number;
  readonly #maxJobs: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Done counts seen per job, oldest first, for the rate. */
  readonly #seen = new Map<string, { at: number; done: number }[]>();
  #snapshot: Snapshot;
  #fingerprint = '';
  #reading: Promise<Snapshot> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(store: Store, options: MonitorOptions = {}) {
    super();
    this.#store = store;
    this.#pollMs = Math.max(100, options.pollMs ?? MONITOR_DEFAULTS.pollMs);
    this.#maxJobs = Math.max(1, options.maxJobs ?? MONITOR_DEFAULTS.maxJobs);
    this.#windowMs = options.rateWindowMs ?? MONITOR_DEFAULTS.rateWindowMs;
    this.#now = options.now ?? Date.now;
    this.#snapshot = { at: this.#now(), store: store.location, jobs: [], error: null };
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Reads the store now (one read at a time: callers during a read share it). */
  refresh(): Promise<Snapshot> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = null;
    });
    return this.#reading;
  }

  /** Reads now, then every pollMs until stop(). */
  async start(): Promise<Snapshot> {
    const first = await this.refresh();
    const tick = () => {
      if (this.#stopped) return;
      void this.refresh().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#pollMs);
      });
    };
    this.#timer = setTimeout(tick, this.#pollMs);
    return first;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #read(): Promise<Snapshot> {
    let next: Snapshot;
    try {
      const jobs = (await this.#store.listJobs()).slice(0, this.#maxJobs);
      const statuses = await Promise.all(jobs.map((j) => this.#store.status(j.name)));
      const at = this.#now();
      next = { at, store: this.#store.location, jobs: statuses.map((s) => this.#job(s, at)), error: null };
      for (const name of this.#seen.keys()) if (!jobs.some((j) => j.name === name)) this.#seen.delete(name);
    } catch (error) {
      next = {
        ...this.#snapshot,
        at: this.#now(),
        error: error instanceof Error ? error.message : String(error),
      };
    }
    this.#snapshot = next;
    // Only what changed is news: the read time alone is not.
    const fingerprint = JSON.stringify({ ...next, at: 0 });
    if (fingerprint !== this.#fingerprint) {
      this.#fingerprint = fingerprint;
      this.emit('change', next);
    }
    return next;
  }

  #job(s: JobStatus, at: number): JobSnapshot {
    const history = this.#seen.get(s.job) ?? [];
    history.push({ at, done: s.items.done });
    while (history.length > 2 && (history[0]?.at ?? at) < at - this.#windowMs) history.shift();
    this.#seen.set(s.job, history);
    const oldest = history[0];
    const live = (s.workers ?? []).filter((w) => workerState(w) === 'live' && w.leased > 0);
    // Over the window once it spans a few seconds; before that, what the live workers say of themselves.
    const rate =
      oldest && at - oldest.at >= 5_000
        ? ((s.items.done - oldest.done) * 1000) / (at - oldest.at)
        : live.length > 0
          ? live.reduce((sum, w) => sum + w.rate, 0)
          : null;
    const left = s.items.pending + s.items.leased;
    return {
      ...s,
      workers: s.workers ?? [],
      failures: s.failures.slice(0, 10),
      events: s.events.slice(0, 20),
      runs: s.runs.slice(0, 10),
      rate: rate === null ? null : Math.round(rate * 100) / 100,
      etaSeconds: left > 0 && rate ? Math.round(left / rate) : null,
      concurrency: currentConcurrency(s.events),
    };
  }
}
