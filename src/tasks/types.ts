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

/** A local file to parse as part of a group. */
export interface FileInput {
  id: string;
  path: string;
  resume: Resume;
}

/** A group of files parsed as one job: their summed delta, and per file its result or its error. */
export interface GroupResult {
  delta: Delta;
  items: ({ id: string; resume: Resume; records: number; bytes: number } | { id: string; error: string })[];
}

export interface Task {
  readonly name: string;
  /** Reads the item from `resume.offset` on and returns its result. */
  process(input: TaskInput): Promise<TaskResult>;
  /**
   * Parses several local files as one job (far less per-item overhead for small blobs). The
   * delta sums the files that succeeded; a file that failed adds nothing and says why.
   */
  processFiles?(files: FileInput[], signal: AbortSignal): Promise<GroupResult>;
  /** Frees what the task holds (worker threads). */
  close(): Promise<void>;
}
