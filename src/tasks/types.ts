// The contract every task implements: turn one item's bytes into a result to commit.
import type { Readable } from 'node:stream';
import type { Delta } from '../aggregate/delta.js';

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

export interface Task {
  readonly name: string;
  /** Reads `input` (the item's bytes from `resume.offset`) and returns its result. Pure but for the stream. */
  process(input: Readable, resume: Resume, signal?: AbortSignal): Promise<TaskResult>;
}
