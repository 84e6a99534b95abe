// Parses PT1H.json blob bytes into an aggregate delta, incrementally and purely (bytes in,
// delta out), so it can run on any thread. Accepts JSON lines and the pre-2018
// {"records": [...]} form, a UTF-8 BOM, CRLF, blank lines, and a last line cut mid-write.
import { isAscii } from 'node:buffer';
import { type Bound, Delta, dimKey } from '../../aggregate/delta.js';
import type { LatencySketch } from '../../aggregate/sketch.js';
import type { Resume, TaskResult } from './checkpoint.js';
import { type Combo, ComboIndex, RECORDS_KEY } from './combos.js';
import { type RecordFacts, recordFacts } from './record.js';

const NEWLINE = 0x0a;
const NON_ASCII = /[\x80-\xff]/g;
const WRAPPER_START = /^\s*\{\s*"records"\s*:/;
/** Bytes looked at to tell the {"records": [...]} form from JSON lines. */
const SNIFF_BYTES = 64;
/** A wrapper-form blob is parsed whole; past this size it is read as lines instead. */
const MAX_WRAPPER_BYTES = 512 * 1024 * 1024;

/** True when a blob's first bytes (BOM allowed) open the {"records": [...]} form, which parses as a whole. */
export function startsAsWrapper(head: Uint8Array): boolean {
  let text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, SNIFF_BYTES + 3)).toString(
    'utf8',
  );
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return WRAPPER_START.test(text);
}

export const KEYS = {
  records: RECORDS_KEY,
  malformed: dimKey('malformed'),
  latencyAll: dimKey('all'),
};

/**
 * What records add up to: counts per dimension tuple, latency sketches, the time range. The blobs
 * of one parse job share one, so they add into one delta instead of building one each and merging.
 */
export class Tally {
  private readonly delta = new Delta();
  /** Records per dimension tuple; turned into counters by `take`. */
  private readonly combos = new Map<Combo, number>();
  /** Latency sketches by their key (the same string objects as the combos' keys). */
  private readonly sketches = new Map<string, LatencySketch>();
  private readonly allSketch = this.delta.sketch(KEYS.latencyAll);
  /** The earliest and latest record time seen (kept here, not in the delta, until `take`). */
  private first: Bound | null = null;
  private last: Bound | null = null;

  malformed(n = 1): void {
    this.delta.count(KEYS.malformed, n);
  }

  record(f: RecordFacts): void {
    const combo = combos.find(
      f.time?.day ?? null,
      f.model,
      f.version,
      f.deployment,
      f.operation,
      f.category,
      f.resource,
      f.status,
      f.cls,
    );
    this.combos.set(combo, (this.combos.get(combo) ?? 0) + 1);
    if (f.time && f.timeText) {
      const key = f.time.key;
      if (this.first === null || key < this.first.key) this.first = { key, text: f.timeText };
      if (this.last === null || key > this.last.key) this.last = { key, text: f.timeText };
    }
    if (f.latencyMs !== null) {
      this.allSketch.accept(f.latencyMs);
      let sketch = this.sketches.get(combo.sketch);
      if (!sketch) {
        sketch = this.delta.sketch(combo.sketch);
        this.sketches.set(combo.sketch, sketch);
      }
      sketch.accept(f.latencyMs);
    }
  }

  /** Adds a delta counted elsewhere (a blob parsed on its own tally). */
  add(delta: Delta): void {
    this.delta.merge(delta);
  }

  /** Everything counted so far, as a delta: the tuples become the counters the store keeps. */
  take(): Delta {
    for (const [combo, n] of this.combos) for (const key of combo.counters) this.delta.count(key, n);
    this.combos.clear();
    if (this.first) this.delta.observeBound('time', this.first.key, this.first.text);
    if (this.last) this.delta.observeBound('time', this.last.key, this.last.text);
    this.first = null;
    this.last = null;
    return this.delta;
  }
}

export class BlobParser {
  private carry: Buffer[] = [];
  /** Bytes of the blob, from its start, fully accounted for (through the last newline). */
  private consumed: number;
  private bytes = 0;
  private records = 0;
  private atBlobStart: boolean;
  private start: Buffer | null = null;
  private wrapper: Buffer[] | null = null;
  private wrapperBytes = 0;

  /**
   * `tally`: where the records are counted; by default the parser's own. A shared one also holds
   * what other blobs counted, and `end()` returns all of it.
   */
  constructor(
    resume: Resume = { offset: 0, tailMalformed: false },
    private readonly tally = new Tally(),
  ) {
    this.consumed = resume.offset;
    this.atBlobStart = resume.offset === 0;
    // The cut line counted as malformed last time is read again now, whole or not.
    if (resume.tailMalformed) this.tally.malformed(-1);
  }

  /** Parses the next bytes. The caller may reuse `chunk` afterwards: what is kept is copied. */
  push(chunk: Uint8Array): void {
    let buf: Buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.bytes += buf.length;
    if (this.atBlobStart) {
      // Which form the blob has is decided on its first bytes: gather enough of them first.
      buf = this.start ? Buffer.concat([this.start, buf]) : buf;
      if (buf.length < SNIFF_BYTES) {
        this.start = Buffer.from(buf);
        return;
      }
      this.start = null;
      this.atBlobStart = false;
      buf = this.sniff(buf);
    }
    this.feed(buf);
  }

  /** Parses bytes already counted in `bytes`. */
  private feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.wrapper) {
      this.wrapper.push(Buffer.from(buf));
      this.wrapperBytes += buf.length;
      if (this.wrapperBytes <= MAX_WRAPPER_BYTES) return;
      const all = Buffer.concat(this.wrapper);
      this.wrapper = null;
      buf = all;
    }
    const last = buf.lastIndexOf(NEWLINE);
    if (last < 0) {
      // A line longer than a chunk: keep (copies of) its pieces, join them once when it ends.
      this.carry.push(Buffer.from(buf));
      return;
    }
    const head =
      this.carry.length > 0
        ? Buffer.concat([...this.carry, buf.subarray(0, last + 1)])
        : buf.subarray(0, last + 1);
    this.carry = last + 1 < buf.length ? [Buffer.from(buf.subarray(last + 1))] : [];
    this.lines(head);
    this.consumed += head.length;
  }

  end(): TaskResult {
    let resume: Resume;
    if (this.atBlobStart) {
      this.atBlobStart = false;
      const start = this.start ?? Buffer.alloc(0);
      this.start = null;
      if (start.length > 0) this.feed(this.sniff(start));
    }
    if (this.wrapper) {
      const all = Buffer.concat(this.wrapper);
      this.wrapper = null;
      if (this.whole(all.toString('utf8'))) {
        resume = { offset: this.consumed + all.length, tailMalformed: false };
        return this.result(resume);
      }
      this.feed(all); // not valid as one document: read it as lines
    }
    const rest = Buffer.concat(this.carry);
    this.carry = [];
    const tail = rest.toString('utf8');
    const tailBytes = rest.length;
    if (tail.trim() === '') {
      resume = { offset: this.consumed, tailMalformed: false };
    } else if (this.line(tail)) {
      resume = { offset: this.consumed + tailBytes, tailMalformed: false };
    } else {
      // Cut mid-write, or junk: counted as malformed now, re-read if the blob grows.
      resume = { offset: this.consumed, tailMalformed: true };
    }
    return this.result(resume);
  }

  /** Strips a BOM and notes the {"records": [...]} form; returns the bytes to parse. */
  private sniff(buf: Buffer): Buffer {
    let body = buf;
    if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
      body = body.subarray(3);
      this.consumed += 3;
    }
    if (WRAPPER_START.test(body.toString('utf8', 0, Math.min(body.length, SNIFF_BYTES)))) this.wrapper = [];
    return body;
  }

  private result(resume: Resume): TaskResult {
    return { delta: this.tally.take(), resume, records: this.records, bytes: this.bytes };
  }

  /**
   * Parses whole lines of UTF-8 bytes. They are read as Latin-1, which costs a copy and gives V8
   * one-byte strings, which JSON.parse reads fastest. A string index is then a byte offset, and
   * JSON's structure is all ASCII, so a line with bytes past ASCII parses the same as Latin-1: only
   * the strings the report reads from it are decoded as UTF-8 (see recordFacts). A line that also
   * has `\u` escapes, whose characters are not bytes, is decoded as UTF-8 whole first.
   */
  private lines(bytes: Buffer): void {
    const text = bytes.toString('latin1');
    // Where the next byte past ASCII is: one scan of the chunk in all, not one per line.
    let wide = isAscii(bytes) ? text.length : nextNonAscii(text, 0);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      if (wide < nl) {
        const line = text.slice(start, nl);
        if (line.includes('\\u')) this.line(bytes.toString('utf8', start, nl));
        else this.line(line, true);
        wide = nextNonAscii(text, nl + 1);
      } else {
        this.line(text.slice(start, nl));
      }
      start = nl + 1;
    }
  }

  /**
   * Accounts one line; false when it is not a record (counted as malformed). Blank lines are nothing.
   * `bytes`: the line is Latin-1 text of UTF-8 bytes past ASCII, without `\u` escapes.
   */
  private line(raw: string, bytes = false): boolean {
    let line = raw;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (!bytes) {
      if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
      if (line.length === 0 || line.trim().length === 0) return true;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // Whether it is blank, a BOM or junk is decided on its characters, not its bytes.
      if (bytes) return this.line(Buffer.from(raw, 'latin1').toString('utf8'));
      this.tally.malformed();
      return false;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.tally.malformed();
      return false;
    }
    const record = value as Record<string, unknown>;
    if (Array.isArray(record.records) && record.time === undefined) this.many(record.records, bytes);
    else this.record(record, bytes);
    return true;
  }

  /** A whole {"records": [...]} document; false when it does not parse as one. */
  private whole(text: string): boolean {
    let value: unknown;
    try {
      value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch {
      return false;
    }
    const records = (value as { records?: unknown } | null)?.records;
    if (!Array.isArray(records)) return false;
    this.many(records);
    return true;
  }

  private many(records: unknown[], bytes = false): void {
    for (const value of records) {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        this.record(value as Record<string, unknown>, bytes);
      } else {
        this.tally.malformed();
      }
    }
  }

  private record(record: Record<string, unknown>, bytes: boolean): void {
    this.records += 1;
    this.tally.record(recordFacts(record, bytes));
  }
}

/** The tuples seen on this thread, shared by its parsers: the same few recur in every blob. */
const combos = new ComboIndex();

/** Index of the first char past ASCII in Latin-1 `text` at or after `from`; `text.length` if none. */
function nextNonAscii(text: string, from: number): number {
  NON_ASCII.lastIndex = from;
  return NON_ASCII.test(text) ? NON_ASCII.lastIndex - 1 : text.length;
}

/** Parses a whole blob held in memory (tests, small inputs). */
export function parseBlob(bytes: Uint8Array, resume?: Resume): TaskResult {
  const parser = new BlobParser(resume);
  parser.push(bytes);
  return parser.end();
}
