// One parse job, as run on a worker thread (or inline): a local file read from an offset, or a
// chunk of bytes transferred from the main thread. Pure but for reading the file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { DeltaData } from '../../aggregate/delta.js';
import type { Resume } from '../types.js';
import { BlobParser } from './parse.js';

/** Largest read from a local file at once. */
const READ_CHUNK = 4 << 20;

export type ParseJob =
  | { kind: 'file'; path: string; resume: Resume }
  /** `bytes` start at `resume.offset` of the blob; a chunk other than the last ends with a newline. */
  | { kind: 'bytes'; bytes: Uint8Array; resume: Resume };

export interface ParseOutput {
  delta: DeltaData;
  resume: Resume;
  records: number;
  bytes: number;
}

export default function parseJob(job: ParseJob): ParseOutput {
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
        // A fresh buffer per read: the parser may keep pieces of it (a line that spans reads).
        const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
        const n = readSync(fd, buffer, 0, buffer.length, position);
        if (n === 0) break;
        parser.push(n === buffer.length ? buffer : buffer.subarray(0, n));
        position += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  const result = parser.end();
  return {
    delta: result.delta.toData(),
    resume: result.resume,
    records: result.records,
    bytes: result.bytes,
  };
}
