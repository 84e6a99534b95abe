// Parses PT1H.json blob bytes into an aggregate delta, incrementally and purely (bytes in,
// delta out), so it can run on any thread. Accepts JSON lines and the pre-2018
// {"records": [...]} form, a UTF-8 BOM, CRLF, blank lines, and a last line cut mid-write.
import { isAscii } from 'node:buffer';
import { type Bound, Delta, dimKey } from '../../aggregate/delta.js';
import type { LatencySketch } from '../../aggregate/sketch.js';
import type { Resume, TaskResult } from '../types.js';
import { recordFacts } from './record.js';

const NEWLINE = 0x0a;
const SEP = '\u0001';
const NUL = '\u0002';
/** Raw JSON text that escapes a control character: its strings may hold SEP or NUL. */
const ESCAPED_CONTROL = '\\u00';
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
  records: dimKey('records'),
  malformed: dimKey('malformed'),
  latencyAll: dimKey('all'),
};

/** A record's dimensions: day, model, version, deployment, operation, category, resource, status, class. */
type ComboParts = readonly [
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string,
];

export class BlobParser {
  private readonly delta = new Delta();
  /** Per record, one composite key; exploded into dimension counters at the end. */
  private readonly combos = new Map<string, { n: number; parts: ComboParts }>();
  private readonly modelSketches = new Map<string, LatencySketch>();
  private readonly allSketch = this.delta.sketch(KEYS.latencyAll);
  /** The earliest and latest record time seen (kept here, not in the delta, until the end). */
  private first: Bound | null = null;
  private last: Bound | null = null;
  private carry: Buffer[] = [];
  /** Bytes of the blob, from its start, fully accounted for (through the last newline). */
  private consumed: number;
  private bytes = 0;
  private records = 0;
  private atBlobStart: boolean;
  private start: Buffer | null = null;
  private wrapper: Buffer[] | null = null;
  private wrapperBytes = 0;

  constructor(resume: Resume = { offset: 0, tailMalformed: false }) {
    this.consumed = resume.offset;
    this.atBlobStart = resume.offset === 0;
    // The cut line counted as malformed last time is read again now, whole or not.
    if (resume.tailMalformed) this.delta.count(KEYS.malformed, -1);
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
    this.explode();
    if (this.first) this.delta.observeBound('time', this.first.key, this.first.text);
    if (this.last) this.delta.observeBound('time', this.last.key, this.last.text);
    this.first = null;
    this.last = null;
    return { delta: this.delta, resume, records: this.records, bytes: this.bytes };
  }

  /**
   * Parses whole lines of UTF-8 bytes. They are read as Latin-1 first, which costs a copy and
   * gives V8 one-byte strings, which JSON.parse also reads fastest; a string index is then a byte
   * offset, so a line with bytes past ASCII is decoded again, alone, as UTF-8.
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
        this.line(bytes.toString('utf8', start, nl));
        wide = nextNonAscii(text, nl + 1);
      } else {
        this.line(text.slice(start, nl));
      }
      start = nl + 1;
    }
  }

  /** Accounts one line; false when it is not a record (counted as malformed). Blank lines are nothing. */
  private line(raw: string): boolean {
    let line = raw;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.length === 0 || line.trim().length === 0) return true;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.delta.count(KEYS.malformed);
      return false;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.delta.count(KEYS.malformed);
      return false;
    }
    const record = value as Record<string, unknown>;
    const escaped = line.includes(ESCAPED_CONTROL);
    if (Array.isArray(record.records) && record.time === undefined) this.many(record.records, escaped);
    else this.record(record, escaped);
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
    this.many(records, text.includes(ESCAPED_CONTROL));
    return true;
  }

  private many(records: unknown[], escaped: boolean): void {
    for (const value of records) {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        this.record(value as Record<string, unknown>, escaped);
      } else {
        this.delta.count(KEYS.malformed);
      }
    }
  }

  private record(record: Record<string, unknown>, escaped: boolean): void {
    const f = recordFacts(record);
    this.records += 1;
    const day = f.time?.day ?? null;
    // The per-record key, built the cheap way. Its separators are control characters, which a
    // decoded string can only hold when the raw text escaped them: then the exact (slower) form.
    const key = escaped
      ? JSON.stringify([
          day,
          f.model,
          f.version,
          f.deployment,
          f.operation,
          f.category,
          f.resource,
          f.status,
          f.cls,
        ])
      : `${day ?? NUL}${SEP}${f.model ?? NUL}${SEP}${f.version ?? NUL}${SEP}${f.deployment ?? NUL}${SEP}${f.operation ?? NUL}${SEP}${f.category ?? NUL}${SEP}${f.resource ?? NUL}${SEP}${f.status ?? NUL}${SEP}${f.cls}`;
    const combo = this.combos.get(key);
    if (combo) combo.n += 1;
    else {
      this.combos.set(key, {
        n: 1,
        parts: [day, f.model, f.version, f.deployment, f.operation, f.category, f.resource, f.status, f.cls],
      });
    }
    if (f.time && f.timeText) {
      const key = f.time.key;
      if (this.first === null || key < this.first.key) this.first = { key, text: f.timeText };
      if (this.last === null || key > this.last.key) this.last = { key, text: f.timeText };
    }
    if (f.latencyMs !== null) {
      this.allSketch.accept(f.latencyMs);
      const modelKey = `${f.model}\u0000${f.version}`;
      let sketch = this.modelSketches.get(modelKey);
      if (!sketch) {
        sketch = this.delta.sketch(dimKey('model', f.model, f.version));
        this.modelSketches.set(modelKey, sketch);
      }
      sketch.accept(f.latencyMs);
    }
  }

  /** Turns per-record composite keys into the counters the store keeps. */
  private explode(): void {
    const d = this.delta;
    for (const [key, { n, parts }] of this.combos) {
      for (const counter of counterKeys(key, parts)) d.count(counter, n);
    }
    this.combos.clear();
  }
}

/** The counters one composite key adds to, remembered: the same few keys recur in every blob. */
const counterKeyCache = new Map<string, string[]>();
const COUNTER_KEY_CACHE_MAX = 20_000;

function counterKeys(combo: string, parts: ComboParts): string[] {
  let keys = counterKeyCache.get(combo);
  if (keys) return keys;
  const [day, model, version, deployment, operation, category, resource, status, cls] = parts;
  keys = [
    KEYS.records,
    dimKey('class', cls),
    ...(status !== null ? [dimKey('code', status)] : []),
    dimKey('day_model', day, model, version, cls),
    dimKey('deployment', deployment, cls),
    dimKey('operation', operation, cls),
    dimKey('category', category, cls),
    dimKey('resource', resource, cls),
  ];
  if (counterKeyCache.size >= COUNTER_KEY_CACHE_MAX) counterKeyCache.clear();
  counterKeyCache.set(combo, keys);
  return keys;
}

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
