// The contract every task implements: turn one item into a result to commit.
import type { Delta } from '../aggregate/delta.js';
import type { Source } from '../sources/types.js';

/** Where a previous pass over the item stopped, so a grown (appended) item is read from there. */
export interface Resume {
  /** Byte offset of the first byte not yet accounted for. */
  offset: number;
  /** The bytes from `offset` to the old end were a cut line that was counted as malformed. */
  tailMalformed: boolean;
}

export interface TaskResult {
  delta: Delta;
  /** Where the next pass should start (see Resume). */
  resume: Resume;
  /** Records this pass counted. */
  records: number;
  /** Bytes this pass read. */
  bytes: number;
}

export interface TaskInput {
  source: Source;
  id: string;
  resume: Resume;
  signal: AbortSignal;
}

export interface Task {
  readonly name: string;
  /** Reads the item from `resume.offset` on and returns its result. */
  process(input: TaskInput): Promise<TaskResult>;
  /** Frees what the task holds (worker threads). */
  close(): Promise<void>;
}
