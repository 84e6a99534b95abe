// The store contract: one job's items (state, attempts, leases, fencing) and its aggregates.
// Every engine action is one verb here; SQLite implements it now, PostgreSQL can later.
import type { Delta } from '../aggregate/delta.js';
import type { ItemRef } from '../sources/types.js';
import type { Resume } from '../tasks/types.js';

export type ItemState = 'pending' | 'leased' | 'done' | 'failed';

/** What defines a job: re-running with the same spec resumes it. Never holds a secret. */
export interface JobSpec {
  name: string;
  source: string;
  task: string;
  /** The listing filters (window, include), as given: part of the job's identity. */
  filters: Record<string, unknown>;
}

export interface Job extends JobSpec {
  createdAt: number;
  /** When a listing pass last completed. */
  listedAt: number | null;
  /** The last name stored by a listing pass that has not completed: the next pass resumes after it. */
  listCursor: string | null;
}

export interface LeasedItem {
  id: string;
  size: number;
  resume: Resume;
  /** Fencing token: a commit with an older token is rejected (the lease was taken over). */
  fence: number;
  attempts: number;
}

/** One item finished: where its next pass resumes and what this pass read. */
export interface ItemDone {
  id: string;
  fence: number;
  resume: Resume;
  /** Where this pass stopped reading: the item's byte length as read. */
  readEnd: number;
  records: number;
  bytes: number;
  startedAt: number;
  finishedAt: number;
}

/**
 * Items whose results commit together, all or none, with their summed delta: one item, or a
 * group of small files parsed as one job (their deltas cannot be told apart afterwards).
 */
export interface CommitUnit {
  items: ItemDone[];
  delta: Delta;
}

export interface AddItemsResult {
  added: number;
  /** Done items that have grown since (appended to) and will be read again from where they stopped. */
  grown: number;
  /** Done items that shrank or were replaced: not recounted (a new job recounts them). */
  replaced: number;
  /** How much the job's total size grew with these items, bytes. */
  bytesAdded: number;
}

export interface FailedItem {
  id: string;
  attempts: number;
  error: string;
}

export interface JobStatus {
  job: string;
  source: string;
  listingComplete: boolean;
  items: { total: number; pending: number; leased: number; done: number; failed: number };
  bytes: { total: number; done: number };
  records: number;
  failures: FailedItem[];
  runs: RunRecord[];
  /** Latest run events, newest first: concurrency changes with their reasons. */
  events: { run: number; at: number; message: string }[];
}

export interface RunRecord {
  id: number;
  owner: string;
  startedAt: number;
  endedAt: number | null;
  outcome: string | null;
  stats: Record<string, number>;
}

export interface Store {
  /** Creates the job, or loads it when it exists with the same spec; a different spec is a usage error. */
  openJob(spec: JobSpec, now: number): Promise<Job>;
  listJobs(): Promise<Job[]>;
  /** Records listed items and, in the same transaction, the listing's cursor (the last name listed). */
  addItems(job: string, items: ItemRef[], cursor?: string): Promise<AddItemsResult>;
  /** The listing pass completed: its cursor is cleared, so the next pass starts from the beginning. */
  markListed(job: string, now: number): Promise<void>;
  /** Claims up to `limit` pending items whose retry time has come. */
  leaseItems(job: string, owner: string, limit: number, ttlMs: number, now: number): Promise<LeasedItem[]>;
  renewLeases(job: string, owner: string, ids: string[], ttlMs: number, now: number): Promise<void>;
  /**
   * ONE transaction: marks the items done and adds their deltas. A unit with any stale lease
   * (its fencing token moved on) is rejected whole: none of its items, nothing of its delta.
   * Counts are of items.
   */
  commitResults(
    job: string,
    owner: string,
    units: CommitUnit[],
  ): Promise<{ committed: number; rejected: number }>;
  /** Records a failed attempt: back to pending after `notBefore`, or failed once attempts reach `maxAttempts`. */
  failItem(
    job: string,
    owner: string,
    item: { id: string; fence: number },
    error: string,
    retry: { notBefore: number; maxAttempts: number },
  ): Promise<'retry' | 'failed'>;
  /** Gives leased items back (clean shutdown). */
  releaseItems(job: string, owner: string, ids: string[]): Promise<void>;
  /** Returns to pending the items whose lease expired or whose owner is known dead. */
  reclaimLeases(job: string, now: number, isDead: (owner: string) => boolean): Promise<number>;
  retryFailed(job: string): Promise<number>;
  hasWork(
    job: string,
    now: number,
  ): Promise<{ ready: number; waiting: number; leased: number; nextAt: number | null }>;
  status(job: string): Promise<JobStatus>;
  /** The job's totals: the sum of every committed item's delta. */
  aggregates(job: string): Promise<Delta>;
  startRun(job: string, owner: string, now: number): Promise<number>;
  endRun(runId: number, outcome: string, stats: Record<string, number>, now: number): Promise<void>;
  addRunEvent(runId: number, at: number, message: string): Promise<void>;
  close(): Promise<void>;
}
