// One parse job, as run on a worker thread (or inline): a local file read from an offset, or a
// chunk of bytes transferred from the main thread. Pure but for reading the file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { DeltaData } from '../../aggregate/delta.js';
import { type RowBatchData, RowCollector } from '../../rows/batch.js';
import { MARK_BYTES, markOf, type Resume, type TailMark, type TaskResult } from './checkpoint.js';
import { BlobParser, type ParseLimits, parseBlob, Tally } from './parse.js';

/** Largest read from a local file at once. */
const READ_CHUNK = 4 << 20;
const readBuffer = Buffer.allocUnsafeSlow(READ_CHUNK);
const markBuffer = Buffer.allocUnsafeSlow(MARK_BYTES);

export type ParseJob = (
  | { kind: 'file'; path: string; resume: Resume }
  /** Several files; their deltas are summed here, so one result crosses back, not one per file. */
  | { kind: 'files'; files: { id: string; path: string; resume: Resume }[] }
  /** `bytes` start at `resume.offset` of the blob; a chunk other than the last ends with a newline. */
  | { kind: 'bytes'; bytes: Uint8Array; resume: Resume }
) & {
  limits?: ParseLimits;
  /** Keep one row per record (--keep-rows): the output then carries them. */
  rows?: boolean;
};

export interface ParseOutput {
  delta: DeltaData;
  resume: Resume;
  records: number;
  bytes: number;
  /** The records' rows, when asked for; their lines count from `resume.lines` (0 for a chunk). */
  rows?: RowBatchData;
  /** A local file's mark of the last bytes read (none when nothing was read). */
  mark?: TailMark;
}

export interface GroupOutput {
  delta: DeltaData;
  items: (
    | { id: string; resume: Resume; records: number; bytes: number; mark?: TailMark }
    | { id: string; error: string }
  )[];
  /** The rows of the files that parsed, each file's under its id, when asked for. */
  rows?: RowBatchData;
}

export default function parseJob(job: ParseJob): ParseOutput | GroupOutput {
  if (job.kind === 'files') return parseFiles(job.files, job.limits, job.rows);
  return parseOne(job);
}

function parseFiles(
  files: { id: string; path: string; resume: Resume }[],
  limits?: ParseLimits,
  keepRows?: boolean,
): GroupOutput {
  // One tally for the group: each file adds into it, no delta per file to build and merge.
  const tally = new Tally();
  const rows = keepRows ? new RowCollector() : undefined;
  const items: GroupOutput['items'] = [];
  for (const file of files) {
    try {
      const result = parseFile(file.path, file.resume, limits, tally, rows);
      items.push({
        id: file.id,
        resume: result.resume,
        records: result.records,
        bytes: result.bytes,
        ...(result.mark ? { mark: result.mark } : {}),
      });
      rows?.endItem(file.id);
    } catch (error) {
      items.push({ id: file.id, error: (error as Error).message });
      rows?.dropItem();
    }
  }
  return { delta: tally.take().toData(), items, ...(rows ? { rows: rows.take() } : {}) };
}

function parseOne(job: Exclude<ParseJob, { kind: 'files' }>): ParseOutput {
  const rows = job.rows ? new RowCollector() : undefined;
  const result: TaskResult & { mark?: TailMark } =
    job.kind === 'bytes'
      ? parseBlob(job.bytes, job.resume, job.limits, rows)
      : parseFile(job.path, job.resume, job.limits, undefined, rows);
  rows?.endItem('');
  return {
    delta: result.delta.toData(),
    resume: result.resume,
    records: result.records,
    bytes: result.bytes,
    ...(result.mark ? { mark: result.mark } : {}),
    ...(rows ? { rows: rows.take() } : {}),
  };
}

/**
 * Reads a local file from its resume offset and parses it, and marks the last bytes read (see
 * checkpoint.ts) while the file is open, here rather than on the main thread. With a shared `tally`, the file counts
 * into it only once it has been read whole (a read error then leaves the tally untouched); a file
 * larger than one read is parsed on its own tally, added to the shared one when it has all parsed.
 */
function parseFile(
  path: string,
  resume: Resume,
  limits?: ParseLimits,
  shared?: Tally,
  rows?: RowCollector,
): TaskResult & { mark?: TailMark } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new Error(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  try {
    const size = fstatSync(fd).size;
    if (shared && size - resume.offset <= READ_CHUNK) {
      const n = readFully(fd, resume.offset, size - resume.offset);
      const parser = new BlobParser(resume, shared, limits, rows);
      parser.push(readBuffer.subarray(0, n));
      // What was read is still in the buffer (the parser copies what it keeps): the mark comes from it.
      return withMark(fd, parser.end(), resume, readBuffer.subarray(0, n));
    }
    const parser = new BlobParser(resume, undefined, limits, rows);
    let position = resume.offset;
    while (position < size) {
      // One buffer per thread, reused for every read: the parser copies what it keeps.
      const n = readSync(fd, readBuffer, 0, Math.min(READ_CHUNK, size - position), position);
      if (n === 0) break;
      parser.push(readBuffer.subarray(0, n));
      position += n;
    }
    const result = parser.end();
    shared?.add(result.delta);
    return withMark(fd, result, resume);
  } finally {
    closeSync(fd);
  }
}

/**
 * The result with the mark of the bytes it read last: the MARK_BYTES (or fewer) that end where it
 * stopped reading. Taken from `read` (the bytes read from the resume offset on) when they hold
 * them all, else read again from the file.
 */
function withMark(
  fd: number,
  result: TaskResult,
  resume: Resume,
  read?: Buffer,
): TaskResult & { mark?: TailMark } {
  const end = resume.offset + result.bytes;
  if (end === 0) return result;
  const length = Math.min(MARK_BYTES, end);
  const from = end - length - resume.offset;
  if (read && from >= 0 && from + length <= read.byteLength)
    return { ...result, mark: markOf(read.subarray(from, from + length), end) };
  const n = readFully(fd, end - length, length, markBuffer);
  return { ...result, mark: markOf(markBuffer.subarray(0, n), end) };
}

/** Reads up to `length` bytes at `position` into `into` (the thread's read buffer); fewer if the file ends first. */
function readFully(fd: number, position: number, length: number, into = readBuffer): number {
  let n = 0;
  while (n < length) {
    const got = readSync(fd, into, n, length - n, position + n);
    if (got === 0) break;
    n += got;
  }
  return n;
}
