// The I/O edge of `sluice analyze`: which files the paths name (folders walked, `--include` globs,
// `-` for standard input), and their lines read as a stream: gzip undone, long lines capped and
// skipped, invalid UTF-8 counted, binary files skipped with the reason.

import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UsageError } from '../errors.js';
import { isBlobAddress, parseBlobAddress } from '../sources/azure/address.js';
import { openSource, type SourceOptions } from '../sources/index.js';
import type { Source } from '../sources/types.js';

export interface InputFile {
  /** As shown in reports: the path given, the path inside a given folder, `-` for stdin, or `azure://account/container/blob`. */
  path: string;
  /** For a blob: the source it is listed in and its name there (read on the main thread). */
  blob?: { source: Source; id: string };
  /** For a blob, as listed: its size and version (ETag), which tell a job when it changed. */
  size?: number;
  version?: string;
}

export interface Inputs {
  files: InputFile[];
  /** Closes the blob sources opened for the listing. */
  close(): Promise<void>;
}

/** Bytes decoded into one string at most (below V8's large-object size). */
const DECODE_BYTES = 64 * 1024;

/** Default cap on one line; longer lines are skipped and counted. */
export const MAX_LINE_BYTES = 1 << 20;

/**
 * The files `paths` name, in a stable order: local files and folders, `-`, and Azure blob
 * addresses (`azure://account/container/prefix` or an https URL, listed with the credentials
 * `sources/` chooses). A missing path is a usage error (exit 2).
 */
export async function listInputs(
  paths: string[],
  include: string[] = [],
  sourceOptions: SourceOptions = {},
): Promise<Inputs> {
  const isIncluded =
    include.length > 0 ? (await import('picomatch')).default(include, { dot: true }) : () => true;
  const files: InputFile[] = [];
  const sources: Source[] = [];
  const close = async () => {
    await Promise.all(sources.map((s) => s.close()));
  };
  for (const given of paths) {
    if (given === '-') {
      files.push({ path: '-' });
      continue;
    }
    if (isBlobAddress(given)) {
      const source = await openSource(given, sourceOptions);
      sources.push(source);
      const { account, container } = parseBlobAddress(given);
      for await (const item of source.list()) {
        const name = item.id.slice(item.id.lastIndexOf('/') + 1);
        if (isIncluded(item.id) || isIncluded(name)) {
          files.push({
            path: `azure://${account}/${container}/${item.id}`,
            blob: { source, id: item.id },
            size: item.size,
            ...(item.version ? { version: item.version } : {}),
          });
        }
      }
      continue;
    }
    const info = await stat(given).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(
        `cannot read ${given}: ${error.code === 'ENOENT' ? 'no such file or folder' : (error.code ?? error.message)}`,
      );
    });
    if (info.isDirectory()) {
      for (const file of await walk(given)) {
        const relative = path.relative(given, file);
        if (isIncluded(relative) || isIncluded(path.basename(file))) files.push({ path: file });
      }
    } else {
      files.push({ path: given });
    }
  }
  return { files, close };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile()) out.push(full);
    // A link to a file is read (Kubernetes' /var/log/containers holds only links); links to
    // folders are not followed, so a loop of links cannot trap the walk.
    else if (entry.isSymbolicLink() && (await stat(full).catch(() => null))?.isFile()) out.push(full);
  }
  return out;
}

export interface LineSink {
  line(text: string, number: number): void;
  skipLongLine(): void;
  invalidUtf8(): void;
  skipFile(reason: string): void;
  /** Called after each chunk's lines: a follower settles its events, a spool waits for its disk. */
  chunkEnd?(): void | Promise<void>;
}

/** Bytes `start` (included) to `end` (excluded) of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Opens a file (or only `range` of a local one), a blob or stdin for `-`, gunzipping `.gz` names. */
export async function openInput(file: InputFile, range?: ByteRange): Promise<Readable> {
  if (file.path === '-') return process.stdin;
  const stream = file.blob
    ? await file.blob.source.open(file.blob.id, 0)
    : createReadStream(file.path, {
        highWaterMark: 1 << 18,
        ...(range ? { start: range.start, end: range.end - 1 } : {}),
      });
  if (!file.path.endsWith('.gz')) return stream;
  const gunzip = createGunzip();
  // A broken source stream surfaces where the lines are read, through the gunzip stream.
  stream.on('error', (error: Error) => gunzip.destroy(error));
  return stream.pipe(gunzip);
}

/**
 * Feeds the stream's lines to `sink`, numbered from 1. A line longer than `maxLine` bytes is not
 * kept (memory stays bounded) and is reported as skipped; a file whose first 8 KiB holds a NUL
 * byte is binary and is skipped whole (unless `fileStart` is false: the stream starts inside one).
 */
export async function readLines(
  stream: Readable,
  sink: LineSink,
  maxLine = MAX_LINE_BYTES,
  fileStart = true,
): Promise<void> {
  let parts: Buffer[] = [];
  let partLength = 0;
  let overlong = false;
  let number = 0;
  let first = fileStart;
  // A decoded line: a UTF-8 character is at most 3 bytes a UTF-16 unit, so only a line of more
  // than a third of `maxLine` units can be too long.
  const line = (text: string) => {
    number += 1;
    if (text.length * 3 > maxLine && Buffer.byteLength(text) > maxLine) sink.skipLongLine();
    else sink.line(text, number);
  };
  const emit = (bytes: Buffer) => {
    number += 1;
    if (overlong || bytes.length > maxLine) {
      sink.skipLongLine();
      return;
    }
    if (!isUtf8(bytes)) sink.invalidUtf8();
    sink.line(bytes.toString('utf8'), number);
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (first) {
        first = false;
        if (buf.subarray(0, 8192).includes(0)) {
          sink.skipFile('binary (NUL bytes in the first 8 KiB)');
          stream.destroy();
          return;
        }
      }
      let start = 0;
      const nl = buf.indexOf(10);
      if (nl >= 0) {
        // The line the last chunk left open ends here.
        const piece = buf.subarray(0, nl);
        if (parts.length === 0) emit(piece);
        else {
          if (!overlong) parts.push(piece);
          emit(overlong ? piece : Buffer.concat(parts));
        }
        parts = [];
        partLength = 0;
        overlong = false;
        start = nl + 1;
        // The lines whole in this chunk: decoded at once when valid UTF-8 (no line in it can be
        // invalid then: a newline byte is never inside a character), one at a time otherwise.
        const end = buf.lastIndexOf(10);
        if (end >= start) {
          const block = buf.subarray(start, end);
          if (isUtf8(block)) {
            // Decoded in pieces of at most DECODE_BYTES that end at a newline: V8 puts a longer
            // string in its large-object space, fresh pages each time, and on a 256 KiB chunk
            // that page faulting cost 40x the decoding itself.
            let from = 0;
            while (from <= block.length) {
              let to = block.length;
              if (to - from > DECODE_BYTES) {
                let cut = block.lastIndexOf(10, from + DECODE_BYTES);
                if (cut < from) cut = block.indexOf(10, from + DECODE_BYTES);
                if (cut >= from) to = cut;
              }
              const text = block.toString('utf8', from, to);
              let at = 0;
              let next = text.indexOf('\n');
              while (next >= 0) {
                line(text.slice(at, next));
                at = next + 1;
                next = text.indexOf('\n', at);
              }
              line(text.slice(at));
              from = to + 1;
            }
          } else {
            let at = start;
            let next = buf.indexOf(10, at);
            while (next >= 0 && next <= end) {
              emit(buf.subarray(at, next));
              at = next + 1;
              next = buf.indexOf(10, at);
            }
          }
          start = end + 1;
        }
      }
      if (start < buf.length && !overlong) {
        const rest = buf.subarray(start);
        partLength += rest.length;
        if (partLength > maxLine) {
          overlong = true;
          parts = [];
        } else parts.push(Buffer.from(rest)); // copied: the chunk's memory is reused by the stream
      }
      await sink.chunkEnd?.();
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    sink.skipFile(`unreadable (${e.code === 'Z_DATA_ERROR' ? 'not valid gzip' : (e.code ?? e.message)})`);
    return;
  }
  if (overlong || parts.length > 0) emit(Buffer.concat(parts));
}
