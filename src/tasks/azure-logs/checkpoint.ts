// Where a pass over a log blob stopped, as the store keeps it (the item's checkpoint), and a mark
// of the last bytes read: a later pass checks them to tell a blob appended to from one replaced.
import { createHash } from 'node:crypto';
import type { Delta } from '../../aggregate/delta.js';
import type { Json } from '../types.js';

/** Where a previous pass over the item stopped, so a grown (appended) item is read from there. */
export interface Resume {
  /** Byte offset of the first byte not yet accounted for. */
  offset: number;
  /** The bytes from `offset` to the old end were a cut line that was counted as malformed. */
  tailMalformed: boolean;
  /** Lines before `offset` (newlines; records in the {"records": [...]} form): kept rows number on from it. */
  lines?: number;
}

/** One pass's result: its delta, where the next pass resumes, what it counted and read. */
export interface TaskResult {
  delta: Delta;
  resume: Resume;
  records: number;
  bytes: number;
}

/** The last bytes a pass read, `length` of them ending at `end`, by their hash. */
export interface TailMark {
  end: number;
  length: number;
  sha1: string;
}

export interface Checkpoint extends Resume {
  mark?: TailMark;
  /**
   * With --keep-rows: the Parquet files (relative to the job's rows folder) holding this item's
   * rows, every pass's. Named here, they commit with the item: `rows` reads only files so named.
   */
  rows?: string[];
  /** The rows folder, when it is not the default one beside a SQLite store (see rows/paths.ts). */
  rowsDir?: string;
}

/** Bytes hashed at the end of a pass: enough to catch a rewrite, one small read to check. */
export const MARK_BYTES = 4096;

export function markOf(tail: Uint8Array, end: number): TailMark {
  return { end, length: tail.byteLength, sha1: createHash('sha1').update(tail).digest('hex') };
}

export function sameMark(mark: TailMark, bytes: Uint8Array): boolean {
  return bytes.byteLength === mark.length && markOf(bytes, mark.end).sha1 === mark.sha1;
}

export function toCheckpoint(
  resume: Resume,
  mark: TailMark | undefined,
  rows?: { files: string[]; dir?: string },
): Json {
  const c: { [key: string]: Json } = { offset: resume.offset, tailMalformed: resume.tailMalformed };
  if (mark) c.mark = { ...mark };
  if (rows) {
    c.lines = resume.lines ?? 0;
    c.rows = rows.files;
    if (rows.dir !== undefined) c.rowsDir = rows.dir;
  }
  return c;
}

export function fromCheckpoint(checkpoint: Json): Checkpoint {
  if (checkpoint === null || typeof checkpoint !== 'object' || Array.isArray(checkpoint)) {
    return { offset: 0, tailMalformed: false };
  }
  const c = checkpoint as {
    offset?: unknown;
    tailMalformed?: unknown;
    mark?: unknown;
    lines?: unknown;
    rows?: unknown;
    rowsDir?: unknown;
  };
  const mark = c.mark as TailMark | undefined;
  return {
    offset: typeof c.offset === 'number' ? c.offset : 0,
    tailMalformed: c.tailMalformed === true,
    ...(mark && typeof mark.end === 'number' ? { mark } : {}),
    ...(typeof c.lines === 'number' ? { lines: c.lines } : {}),
    ...(Array.isArray(c.rows) ? { rows: c.rows.filter((f): f is string => typeof f === 'string') } : {}),
    ...(typeof c.rowsDir === 'string' ? { rowsDir: c.rowsDir } : {}),
  };
}
