// The store contract: one job's items (state, attempts, payload, checkpoint, leases, fencing), its
// additive aggregates, its workers and runs. Every engine action is one verb here, batched where
// the engine acts on many items at once. SQLite (one machine) and PostgreSQL (many) implement it,
// and test/store-contract.test.ts holds both to it. It knows nothing of any task: payloads,
// checkpoints, metrics and results are opaque JSON to it.
import type { Delta } from '../aggregate/delta.js';

/** JSON values: what payloads, checkpoints and results are made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type ItemState = 'pending' | 'leased' | 'done' | 'failed';

/** One unit of work as a listing records it: a blob, a file, a row of a work-item list. */
export interface NewItem {
  /** Stable id within the job. */
  id: string;
  /** Size in bytes when listed (0 where it means nothing, as for a row). */
  size: number;
  /** Changes when the content is replaced (ETag, mtime); a new version makes a done item pending again. */
  version?: string;
  /** What the task needs besides the id: a CSV row, a JSONL object. Kept, so a resumed run has it. */
  payload?: Json;
}

/** What defines a job: re-running with the same spec resumes it. Never holds a secret. */
export interface JobSpec {
  name: string;
  source: string;
  task: string;
  /** The listing filters and task options that define the job, as given: part of its identity. */
  filters: Record<string, unknown>;
}

export interface Job extends JobSpec {
  createdAt: number;
  /** When a listing pass last completed. */
  listedAt: number | null;
  /** The last id stored by a listing pass that has not completed: the next pass resumes after it. */
  listCursor: string | null;
}

/** An item in a worker's hands. */
export interface LeasedItem {
  id: string;
  size: number;
  payload: Json;
  /** Where the previous pass stopped (task-defined), null on a first pass. */
  checkpoint: Json;
  /** Fencing token: bumped by every claim; a heartbeat or commit with an older one changes nothing. */
  fence: number;
  /** Failed attempts so far. */
  attempts: number;
}

/** One item finished: where its next pass starts, what this pass did. */
export interface ItemOutcome {
  id: string;
  fence: number;
  /** Where the next pass starts (task-defined), e.g. a byte offset for blobs. */
  checkpoint: Json;
  /** How much of the item this and earlier passes read, bytes (kept with the item, shown by listItems). */
  covered: number;
  /** Units this pass counted (records, for logs) and bytes it read; both add up per item. */
  records: number;
  bytes: number;
  /** Anything else the task measured (exit code, duration, peak memory), kept with the item. */
  metrics?: Record<string, number>;
  /** Where the item's output went, or other task-defined detail, kept with the item. */
  result?: Json;
  startedAt: number;
  finishedAt: number;
}

/**
 * Outcomes that commit together, all or none, with their summed delta: one item, or a group of
 * small files parsed as one job (their deltas cannot be told apart afterwards).
 */
export interface CommitUnit {
  items: ItemOutcome[];
  delta?: Delta;
}

/** One failed attempt, to record. */
export interface ItemFailure {
  id: string;
  fence: number;
  error: string;
  /** Not tried again before this many ms from now (the store's clock). */
  delayMs: number;
  /** Fails the item now, whatever its attempts (a missing file will not appear by retrying). */
  permanent?: boolean;
  result?: Json;
  metrics?: Record<string, number>;
}

/** Everything the store keeps of one item. */
export interface ItemRecord {
  id: string;
  state: ItemState;
  size: number;
  version: string | null;
  payload: Json;
  checkpoint: Json;
  covered: number;
  attempts: number;
  records: number;
  bytes: number;
  metrics: Record<string, number> | null;
  result: Json;
  error: string | null;
  owner: string | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface AddItemsResult {
  added: number;
  /** Done items listed larger (appended to) or with a new version: they run again from their checkpoint. */
  changed: number;
  /** How much the job's total size grew with these items, bytes. */
  bytesAdded: number;
}

export interface FailedItem {
  id: string;
  attempts: number;
  error: string;
  result?: Json;
  metrics?: Record<string, number>;
}

/** One worker process on a job, as its heartbeats describe it. */
export interface WorkerStatus {
  owner: string;
  host: string;
  /** Items this worker committed. */
  done: number;
  /** Items it holds now. */
  leased: number;
  records: number;
  startedAt: number;
  /** Its last heartbeat, ms since the epoch. */
  lastSeen: number;
  /** It ended its run and left the job. */
  left: boolean;
  /** Its heartbeat stopped for longer than its lease (while it had not left): its items go to the others. */
  stale: boolean;
  /** Items per second over its life. */
  rate: number;
}

export interface JobStatus {
  job: string;
  source: string;
  task: string;
  listingComplete: boolean;
  items: { total: number; pending: number; leased: number; done: number; failed: number };
  bytes: { total: number; done: number };
  records: number;
  /** Failed items (the first 100 by id), with their last error and result. */
  failures: FailedItem[];
  /** Every worker that has taken part in the job, live ones first. */
  workers: WorkerStatus[];
  runs: RunRecord[];
  /** Latest run events, newest first: concurrency changes and other decisions with their reasons. */
  events: { run: number; at: number; message: string }[];
}

/** What a progress line needs of the whole job, read in one go (a worker reads it every second). */
export type JobProgress = Pick<JobStatus, 'listingComplete' | 'items' | 'bytes' | 'records'> & {
  /** Workers that are not stale: live ones and those that left cleanly (as `status` counts them). */
  workers: number;
};

export interface RunRecord {
  id: number;
  owner: string;
  startedAt: number;
  endedAt: number | null;
  outcome: string | null;
  stats: Record<string, number>;
}

/** What is left to do, as the engine asks when it has nothing in hand. */
export interface WorkLeft {
  /** Pending items whose retry time has come. */
  ready: number;
  /** Pending items waiting out a backoff. */
  waiting: number;
  /** Items leased by anyone, this worker included. */
  leased: number;
  /** Ms until the next waiting item is due or the next lease expires (store's clock), null if none. */
  nextInMs: number | null;
}

export interface Store {
  /** Printable location, password removed. */
  readonly location: string;
  /** Creates the job, or loads it when it exists with the same spec; a different spec is a usage error. */
  openJob(spec: JobSpec): Promise<Job>;
  /** Jobs, most recently run first. */
  listJobs(): Promise<Job[]>;
  /**
   * Records listed items and, in the same transaction, the listing's cursor. New items become
   * pending; a done item listed with another size or another version becomes pending again, its
   * checkpoint kept (the task then tells an append from a replacement); an item not done takes
   * the listed size and version; an item listed unchanged is left as it is.
   */
  addItems(job: string, items: NewItem[], cursor?: string): Promise<AddItemsResult>;
  /**
   * Takes the job's listing for `owner` when nobody else holds it, and either the listing is
   * incomplete or no other live worker is on the job (so one of many workers lists, once). The
   * hold lasts `ttlMs` and is renewed by `heartbeat`.
   */
  claimListing(job: string, owner: string, ttlMs: number): Promise<boolean>;
  /** The listing pass completed: its cursor is cleared and its hold released. */
  markListed(job: string, owner: string): Promise<void>;
  /**
   * Claims up to `limit` items: pending ones whose retry time has come, and leased ones whose
   * lease expired (their owner died or froze). Each claim bumps the item's fencing token.
   * Expiry is judged on the store's clock (the database's, for PostgreSQL).
   */
  leaseItems(job: string, owner: string, limit: number, ttlMs: number): Promise<LeasedItem[]>;
  /**
   * Registers or refreshes `owner` as a live worker and renews, in one statement, the leases it
   * holds with the fencing tokens it holds them by (and its listing hold). Returns the ids it has
   * lost (taken over, or no longer leased to it): their work must stop and not commit.
   */
  heartbeat(
    job: string,
    owner: string,
    items: { id: string; fence: number }[],
    ttlMs: number,
  ): Promise<{ lost: string[] }>;
  /**
   * ONE transaction: marks the units' items done and adds their deltas. A unit with any item
   * whose lease is stale (not leased to `owner` with that fence) is rejected whole: none of its
   * items, nothing of its delta. Returns how many items committed and the ids of those rejected.
   */
  commitResults(
    job: string,
    owner: string,
    units: CommitUnit[],
  ): Promise<{ committed: number; rejected: string[] }>;
  /**
   * Records failed attempts in one statement: each item waits out its delay as pending, or ends
   * failed when its attempts reach `maxAttempts` or the failure is permanent. Stale ones are ignored.
   */
  failItems(
    job: string,
    owner: string,
    failures: ItemFailure[],
    maxAttempts: number,
  ): Promise<Map<string, 'retry' | 'failed'>>;
  /** Gives leased items back untouched, no attempt counted (clean stop, or a child stopped to spare memory). */
  releaseItems(job: string, owner: string, items: { id: string; fence: number }[]): Promise<void>;
  /** Returns to pending at once the items of owners known dead (a process of this host that is gone). */
  reclaimDead(job: string, isDead: (owner: string) => boolean): Promise<number>;
  /** Failed items become pending with their attempts reset. */
  retryFailed(job: string): Promise<number>;
  /** Starts the job's counting over: every item pending from its beginning, aggregates cleared. */
  recount(job: string): Promise<number>;
  workLeft(job: string): Promise<WorkLeft>;
  status(job: string): Promise<JobStatus>;
  /** The counts of `status` without its lists: one query, for progress. */
  progress(job: string): Promise<JobProgress>;
  /** The job's totals: the sum of every committed unit's delta. */
  aggregates(job: string): Promise<Delta>;
  /** Items with everything kept of them, in id order, after `after`: for reports, status and merge. */
  listItems(
    job: string,
    options: { state?: ItemState; after?: string; limit: number },
  ): Promise<ItemRecord[]>;
  /** The worker leaves the job (its row stays for status, no longer live). */
  leaveJob(job: string, owner: string): Promise<void>;
  startRun(job: string, owner: string, now: number): Promise<number>;
  endRun(runId: number, outcome: string, stats: Record<string, number>, now: number): Promise<void>;
  addRunEvent(runId: number, at: number, message: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A store call failed (the file, the disk or the database): the run's problem, never an item's.
 * `retryable` ones (busy, a dropped connection, a restarting server) are worth trying again;
 * the others (full disk, read-only, corrupt) are not. Exit code 3.
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
