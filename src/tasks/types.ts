// The contract every task implements: turn one leased item into an outcome the engine commits.
// A task knows its own checkpoint, payload and report; the engine and the store see them as JSON.
import type { Delta } from '../aggregate/delta.js';
import type { Json, LeasedItem } from '../store/types.js';

export type { Json, LeasedItem } from '../store/types.js';

/** What one pass over one item produced. */
export interface Outcome {
  /** Where the item's next pass starts (a byte offset for blobs; null for a command). */
  checkpoint: Json;
  /** How much of the item is now covered, bytes (see ItemOutcome.covered). */
  covered: number;
  /** Units counted (log records) and bytes read by this pass. */
  records: number;
  bytes: number;
  /** Anything else measured: exit code, duration, peak memory... */
  metrics?: Record<string, number>;
  /** Where the output went, or other detail kept with the item. */
  result?: Json;
  /** What this item adds to the job's aggregates. */
  delta?: Delta;
}

/** The failure of one item of a group: `permanent` when trying again cannot help. */
export interface GroupFailure {
  id: string;
  error: string;
  permanent?: boolean;
}

/** A group of items run as one job: their summed delta, and per item its outcome or its error. */
export interface GroupOutcome {
  delta: Delta;
  items: ((Omit<Outcome, 'delta'> & { id: string }) | GroupFailure)[];
}

export interface Task {
  readonly name: string;
  /**
   * Runs one item. `signal` aborts when the item must stop (a hard stop, a lost lease): stop
   * quickly; nothing of the item commits. Throw ItemError (transient or permanent) for a failure
   * of the item, ItemRequeued to give it back without using an attempt, UsageError when the whole
   * run cannot go on (a command that does not exist).
   */
  run(item: LeasedItem, signal: AbortSignal): Promise<Outcome>;
  /**
   * Runs several small items as one job (far less per-item overhead); when present, the engine
   * groups items up to `groupLimits`. The delta sums the items that succeeded.
   */
  runGroup?(items: LeasedItem[], signal: AbortSignal): Promise<GroupOutcome>;
  readonly groupLimits?: { items: number; bytes: number };
  /**
   * Called as items are claimed, before a slot is free for them: work that needs no slot and would
   * otherwise sit on each item's critical path (the exec task creates output folders and files).
   * Must not throw; `run` reports what went wrong.
   */
  prepare?(item: LeasedItem): void;
  /** Frees what the task holds (worker threads, children). */
  close(): Promise<void>;
}
