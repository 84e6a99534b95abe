// Writes one blob to disk in large chunks, awaiting each write: memory stays bounded however big
// the blob, and a slow disk slows the generator down instead of filling the heap.
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Pending text is flushed once it reaches this many UTF-16 units (about 1 MB of mostly ASCII). */
const FLUSH_AT = 1 << 20;

export class BlobFile {
  private pending = '';
  /** Raw chunks queued ahead of `pending`, in order. */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  /** Bytes written so far. */
  bytes = 0;

  /** Opened (folders included) at the first flush, so a small blob costs one burst of I/O at close. */
  private handle: FileHandle | undefined;

  constructor(private readonly path: string) {}

  /** Queues text. Synchronous, so the per-record loop stays cheap; flush when `full`. */
  text(s: string): void {
    this.pending += s;
  }

  /** Queues raw bytes (junk, a line cut mid-character) after the text queued so far. */
  raw(chunk: Buffer): void {
    this.queueText();
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
  }

  get full(): boolean {
    return this.pending.length + this.queuedBytes >= FLUSH_AT;
  }

  async flush(): Promise<void> {
    this.queueText();
    const chunk = this.queued.length === 1 ? (this.queued[0] as Buffer) : Buffer.concat(this.queued);
    this.queued = [];
    this.queuedBytes = 0;
    const handle = await this.open();
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
      done += bytesWritten;
    }
    this.bytes += chunk.length;
  }

  private queueText(): void {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending);
    this.pending = '';
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
  }

  private async open(): Promise<FileHandle> {
    if (!this.handle) {
      await mkdir(dirname(this.path), { recursive: true });
      this.handle = await open(this.path, 'w');
    }
    return this.handle;
  }

  /** Writes what is queued and closes; an empty blob is still created (as a 0-byte file). */
  async close(): Promise<number> {
    await this.flush();
    await (await this.open()).close();
    return this.bytes;
  }
}

/**
 * Re-indents compact JSON text exactly as JSON.stringify(value, null, 2) would lay it out, but
 * without parsing it: numbers keep their digits (.NET ticks exceed 2^53 and would be rounded).
 * `level` is the starting depth, for a value nested inside a wrapper.
 */
export function indentJson(text: string, level = 0): string {
  const pad = (n: number) => `\n${'  '.repeat(n)}`;
  let out = '';
  let depth = level;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      if (text[i + 1] === close) {
        out += c + close;
        i += 2;
        continue;
      }
      depth += 1;
      out += c + pad(depth);
    } else if (c === '}' || c === ']') {
      depth -= 1;
      out += pad(depth) + c;
    } else if (c === ',') {
      out += `,${pad(depth)}`;
    } else if (c === ':') {
      out += ': ';
    } else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') {
      out += c;
    }
    i += 1;
  }
  return out;
}
