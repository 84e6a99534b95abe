// One parse job, as run on a worker thread (or inline): a local file read from an offset, or a
// chunk of bytes transferred from the main thread. Pure but for reading the file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Delta, type DeltaData } from '../../aggregate/delta.js';
import type { Resume, TaskResult } from '../types.js';
import { BlobParser } from './parse.js';

/** Largest read from a local file at once. */
const READ_CHUNK = 4 << 20;
const readBuffer = Buffer.allocUnsafeSlow(READ_CHUNK);

export type ParseJob =
  | { kind: 'file'; path: string; resume: Resume }
  /** Several files; their deltas are summed here, so one result crosses back, not one per file. */
  | { kind: 'files'; files: { id: string; path: string; resume: Resume }[] }
  /** `bytes` start at `resume.offset` of the blob; a chunk other than the last ends with a newline. */
  | { kind: 'bytes'; bytes: Uint8Array; resume: Resume };

export interface ParseOutput {
  delta: DeltaData;
  resume: Resume;
  records: number;
  bytes: number;
}

export interface GroupOutput {
  delta: DeltaData;
  items: ({ id: string; resume: Resume; records: number; bytes: number } | { id: string; error: string })[];
}

export default function parseJob(job: ParseJob): ParseOutput | GroupOutput {
  if (job.kind === 'files') return parseFiles(job.files);
  return parseOne(job);
}

function parseFiles(files: { id: string; path: string; resume: Resume }[]): GroupOutput {
  const total = new Delta();
  const items: GroupOutput['items'] = [];
  for (const file of files) {
    try {
      const result = parseOneResult({ kind: 'file', path: file.path, resume: file.resume });
      total.merge(result.delta);
      items.push({ id: file.id, resume: result.resume, records: result.records, bytes: result.bytes });
    } catch (error) {
      items.push({ id: file.id, error: (error as Error).message });
    }
  }
  return { delta: total.toData(), items };
}

function parseOne(job: Exclude<ParseJob, { kind: 'files' }>): ParseOutput {
  const result = parseOneResult(job);
  return {
    delta: result.delta.toData(),
    resume: result.resume,
    records: result.records,
    bytes: result.bytes,
  };
}

function parseOneResult(job: Exclude<ParseJob, { kind: 'files' }>): TaskResult {
  const parser = new BlobParser(job.resume);
  if (job.kind === 'bytes') {
    parser.push(job.bytes);
  } else {
    let fd: number;
    try {
      fd = openSync(job.path, 'r');
    } catch (error) {
      throw new Error(
        `cannot read ${job.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    try {
      const size = fstatSync(fd).size;
      let position = job.resume.offset;
      while (position < size) {
        // One buffer per thread, reused for every read: the parser copies what it keeps.
        const n = readSync(fd, readBuffer, 0, Math.min(READ_CHUNK, size - position), position);
        if (n === 0) break;
        parser.push(readBuffer.subarray(0, n));
        position += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return parser.end();
}
