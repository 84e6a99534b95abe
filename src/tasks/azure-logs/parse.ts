// Parses PT1H.json blob bytes into an aggregate delta, incrementally and purely (bytes in,
// delta out), so it can run on any thread. Accepts JSON lines and the pre-2018
// {"records": [...]} form, a UTF-8 BOM, CRLF, blank lines, and a last line cut mid-write.
// Memory is bounded whatever the input: a line past the cap is one malformed line, skipped without
// being held, and the {"records": [...]} form is read record by record (records-stream.ts).
import { isAscii } from 'node:buffer';
import { type Bound, Delta, dimKey } from '../../aggregate/delta.js';
import { LatencySketch } from '../../aggregate/sketch.js';
import type { RowCollector } from '../../rows/batch.js';
import { DIMENSIONS, type Dimension, DistinctCap, OTHER_VALUE } from './caps.js';
import type { Resume, TaskResult } from './checkpoint.js';
import { type Combo, ComboIndex, RECORDS_KEY } from './combos.js';
import { M, type Scanner, STATUS_OTHER, STOP_LINE, scanner, TUPLE_INTS, type ValueTable } from './native.js';
import { OTHER_STATUS, type RecordFacts, recordFacts, statusClass } from './record.js';
import { RecordsStream } from './records-stream.js';

const NEWLINE = 0x0a;
const HIGH = /[\x80-\xff]/;
const WRAPPER_START = /^\s*\{\s*"records"\s*:/;
/** Bytes of the {"records": [...]} form turned into text at once (see feed). */
const STREAM_SLICE = 16 << 10;
/** Bytes of whole lines read into one string at most (below V8's large-object size). */
const DECODE_BYTES = 64 << 10;
/** Bytes looked at to tell the {"records": [...]} form from JSON lines. */
const SNIFF_BYTES = 64;
/**
 * Longest line (or record of the {"records": [...]} form) parsed, in bytes: a longer one is counted
 * as one malformed line and skipped unread. Azure's records are kilobytes; a line of hundreds of MB
 * is junk, and parsing it would take several times its size in memory (and past 512 MB, no string
 * can hold it).
 */
export const MAX_LINE_BYTES = 32 << 20;

export interface ParseLimits {
  /** Longest line or record parsed, in bytes (default MAX_LINE_BYTES); longer is malformed. */
  maxLineBytes?: number;
  /** Read lines with the native scanner where it is built (default true); false: JSON.parse only. */
  native?: boolean;
}

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
  /** Records whose value of a dimension was folded into "(other)" (see caps.ts), per dimension. */
  folded: (dimension: Dimension) => dimKey('folded', dimension),
};
const FOLDED_KEYS = Object.fromEntries(DIMENSIONS.map((d) => [d, KEYS.folded(d)])) as Record<
  Dimension,
  string
>;

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
  /** The distinct values of each dimension this tally has counted, up to the caps of caps.ts. */
  private readonly caps = Object.fromEntries(DIMENSIONS.map((d) => [d, new DistinctCap()])) as Record<
    Dimension,
    DistinctCap
  >;
  /** Values folded into "(other)" so far. */
  private folded = 0;
  /** The combo of each scanned tuple id seen by this tally, for the scanner's `tupleEpoch`. */
  private tupleCombos: Combo[] = [];
  private tupleEpoch = -1;

  malformed(n = 1): void {
    this.delta.count(KEYS.malformed, n);
  }

  record(f: RecordFacts): void {
    const combo = combos.find(
      f.time?.day ?? null,
      this.bounded('model', f.model),
      this.bounded('version', f.version),
      this.bounded('deployment', f.deployment),
      this.bounded('operation', f.operation),
      this.bounded('category', f.category),
      this.bounded('resource', f.resource),
      f.status,
      f.cls,
    );
    this.combos.set(combo, (this.combos.get(combo) ?? 0) + 1);
    if (f.time && f.timeText) this.observe(f.time.key, f.timeText);
    if (f.latencyMs !== null) this.latency(combo, f.latencyMs);
  }

  /**
   * Records read by the native scanner (native.ts): `count` tuple ids in `ids`, the tuples in
   * `tuples` (TUPLE_INTS ints each) and their values in `names` (both valid for `epoch`), the
   * latencies in `latency` (NaN: none). Counted as `record` counts.
   */
  scanned(
    ids: Int32Array,
    latency: Float64Array,
    count: number,
    tuples: readonly number[],
    names: readonly string[],
    epoch: number,
  ): void {
    if (this.tupleEpoch !== epoch) {
      this.tupleCombos = [];
      this.tupleEpoch = epoch;
    }
    const known = this.tupleCombos;
    for (let i = 0; i < count; i += 1) {
      const id = ids[i] as number;
      const combo = known[id] ?? this.tupleCombo(id, tuples, names);
      this.combos.set(combo, (this.combos.get(combo) ?? 0) + 1);
      const ms = latency[i] as number;
      if (!Number.isNaN(ms)) this.latency(combo, ms);
    }
  }

  /**
   * The combo of a scanned tuple. Kept for this tally's later records while none of its values was
   * folded: a record folded into "(other)" must count as folded itself.
   */
  private tupleCombo(id: number, tuples: readonly number[], names: readonly string[]): Combo {
    const at = id * TUPLE_INTS;
    const name = (i: number) => {
      const value = tuples[at + i] as number;
      return value < 0 ? null : (names[value] as string);
    };
    const code = tuples[at + 7] as number;
    const known = code >= 100 ? code : null;
    const folded = this.folded;
    const combo = combos.find(
      name(0),
      this.bounded('model', name(1)),
      this.bounded('version', name(2)),
      this.bounded('deployment', name(3)),
      this.bounded('operation', name(4)),
      this.bounded('category', name(5)),
      this.bounded('resource', name(6)),
      known !== null ? statusText(known) : code === STATUS_OTHER ? OTHER_STATUS : null,
      statusClass(known),
    );
    if (this.folded === folded) this.tupleCombos[id] = combo;
    return combo;
  }

  /** A record time: its sortable key and its text. */
  observe(key: string, text: string): void {
    if (this.first === null || key < this.first.key) this.first = { key, text };
    if (this.last === null || key > this.last.key) this.last = { key, text };
  }

  private latency(combo: Combo, ms: number): void {
    const bin = LatencySketch.binOf(ms);
    this.allSketch.acceptIn(bin, ms);
    let sketch = this.sketches.get(combo.sketch);
    if (!sketch) {
      sketch = this.delta.sketch(combo.sketch);
      this.sketches.set(combo.sketch, sketch);
    }
    sketch.acceptIn(bin, ms);
  }

  /** A dimension value within the caps of caps.ts; a record folded into "(other)" is counted as such. */
  private bounded(dimension: Dimension, value: string | null): string | null {
    if (value === null) return null;
    const kept = this.caps[dimension].admit(value);
    if (kept === OTHER_VALUE && value !== OTHER_VALUE) {
      this.delta.count(FOLDED_KEYS[dimension]);
      this.folded += 1;
    }
    return kept;
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
  /** The pieces of a line not yet ended, and their bytes. */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Bytes of an over-long line skipped so far (0: none is being skipped). */
  private skipping = 0;
  /** Bytes of the blob, from its start, fully accounted for (through the last newline). */
  private consumed: number;
  private bytes = 0;
  private records = 0;
  private atBlobStart: boolean;
  private start: Buffer | null = null;
  /** The {"records": [...]} form, read record by record; null for JSON lines. */
  private stream: RecordsStream | null = null;
  private streamBytes = 0;
  private readonly maxLineBytes: number;
  /** Reads whole lines of JSON lines when built; not with rows kept (they need each record's facts). */
  private readonly scanner: Scanner | null;
  /**
   * Lines of the blob before the one being read (newlines past), from `resume.lines`; in the
   * {"records": [...]} form, records so far. Each kept row is numbered by it (see rows/batch.ts).
   */
  private lineNo: number;

  /**
   * `tally`: where the records are counted; by default the parser's own. A shared one also holds
   * what other blobs counted, and `end()` returns all of it. `rows`: where each record's row goes,
   * when rows are kept.
   */
  constructor(
    resume: Resume = { offset: 0, tailMalformed: false },
    private readonly tally = new Tally(),
    limits: ParseLimits = {},
    private readonly rows?: RowCollector,
  ) {
    this.maxLineBytes = limits.maxLineBytes ?? MAX_LINE_BYTES;
    this.scanner = limits.native === false || rows ? null : scanner;
    this.consumed = resume.offset;
    this.lineNo = resume.lines ?? 0;
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
    if (this.stream) {
      this.streamBytes += chunk.length;
      // In slices small enough for the young generation: a record's text is a slice of one, and a
      // chunk-sized string would outlive many collections in the large-object space.
      for (let at = 0; at < chunk.length; at += STREAM_SLICE) {
        this.stream.push(chunk.toString('latin1', at, Math.min(chunk.length, at + STREAM_SLICE)));
      }
      return;
    }
    let buf = chunk;
    if (this.skipping > 0) {
      const nl = buf.indexOf(NEWLINE);
      if (nl < 0) {
        this.skipping += buf.length;
        return;
      }
      this.consumed += this.skipping + nl + 1;
      this.lineNo += 1;
      this.skipping = 0;
      buf = buf.subarray(nl + 1);
    }
    const last = buf.lastIndexOf(NEWLINE);
    if (last < 0) {
      // A line longer than a chunk: keep (copies of) its pieces, join them once when it ends.
      this.carry.push(Buffer.from(buf));
      this.carryBytes += buf.length;
      if (this.carryBytes > this.maxLineBytes) {
        // Too long to parse: one malformed line, skipped to its end without holding it.
        this.tally.malformed();
        this.skipping = this.carryBytes;
        this.carry = [];
        this.carryBytes = 0;
      }
      return;
    }
    let from = 0;
    if (this.carry.length > 0) {
      // The line begun in earlier chunks ends in this one: it alone is joined, the rest is read in place.
      const nl = buf.indexOf(NEWLINE);
      const line = Buffer.concat([...this.carry, buf.subarray(0, nl + 1)]);
      this.lines(line);
      this.consumed += line.length;
      from = nl + 1;
    }
    if (last + 1 > from) {
      const head = buf.subarray(from, last + 1);
      this.lines(head);
      this.consumed += head.length;
    }
    this.carry = last + 1 < buf.length ? [Buffer.from(buf.subarray(last + 1))] : [];
    this.carryBytes = buf.length - last - 1;
  }

  end(): TaskResult {
    let resume: Resume;
    if (this.atBlobStart) {
      this.atBlobStart = false;
      const start = this.start ?? Buffer.alloc(0);
      this.start = null;
      if (start.length > 0) this.feed(this.sniff(start));
    }
    if (this.stream) {
      this.stream.end();
      this.stream = null;
      return this.result({ offset: this.consumed + this.streamBytes, tailMalformed: false });
    }
    if (this.skipping > 0) {
      // Ends inside an over-long line, already counted as malformed: re-read if the blob grows.
      this.skipping = 0;
      this.carry = [];
      return this.result({ offset: this.consumed, tailMalformed: true });
    }
    const rest = Buffer.concat(this.carry);
    this.carry = [];
    this.carryBytes = 0;
    const tail = rest.toString('utf8');
    const tailBytes = rest.length;
    // The last line, not ended by a newline: numbered as the next line, but not counted as one
    // (a grown blob's next pass starts past it, and its first line is this one's continuation).
    this.lineNo += 1;
    const whole = tail.trim() === '' ? null : this.line(tail);
    this.lineNo -= 1;
    if (whole === null) {
      resume = { offset: this.consumed, tailMalformed: false };
    } else if (whole) {
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
    if (WRAPPER_START.test(body.toString('utf8', 0, Math.min(body.length, SNIFF_BYTES)))) {
      this.stream = new RecordsStream(
        { value: (text) => this.value(text), malformed: () => this.tally.malformed() },
        this.maxLineBytes,
      );
    }
    return body;
  }

  private result(resume: Resume): TaskResult {
    return {
      delta: this.tally.take(),
      // Where the lines stand matters only to numbered rows.
      resume: this.rows ? { ...resume, lines: this.lineNo } : resume,
      records: this.records,
      bytes: this.bytes,
    };
  }

  /**
   * Parses whole lines of UTF-8 bytes: with the native scanner where it is built (see `scan`), and
   * otherwise (and each line the scanner leaves) as follows. They are read as Latin-1, which costs
   * a copy and gives V8 one-byte strings, which JSON.parse reads fastest. A string index is then a
   * byte offset, and JSON's structure is all ASCII, so a line with bytes past ASCII parses the same
   * as Latin-1: only the strings the report reads from it are decoded as UTF-8 (see recordFacts).
   * A line that also has `\u` escapes, whose characters are not bytes, is decoded as UTF-8 first.
   */
  private lines(bytes: Buffer): void {
    if (this.scanner) {
      this.scan(this.scanner, bytes);
      return;
    }
    // In pieces of at most DECODE_BYTES that end at a newline (a longer line is a piece of its
    // own): V8 allocates a longer string in its large-object space, on fresh pages each time, and
    // faulting those pages in cost far more than the copy.
    let from = 0;
    while (from < bytes.length) {
      let to = bytes.length;
      if (to - from > DECODE_BYTES) {
        let cut = bytes.lastIndexOf(NEWLINE, from + DECODE_BYTES - 1);
        if (cut < from) cut = bytes.indexOf(NEWLINE, from + DECODE_BYTES);
        if (cut >= 0) to = cut + 1;
      }
      this.piece(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
      from = to;
    }
  }

  /**
   * Whole lines read by the native scanner, which stops at each line it leaves to `piece` (see
   * scan.c): records are counted in their order, as `piece` alone would count them.
   */
  private scan(native: Scanner, bytes: Buffer): void {
    const { meta, ids, latency, fresh, names, freshTuples, tuples } = scanned;
    scanned.table ??= native.table();
    let from = 0;
    while (from < bytes.length) {
      native.scan(scanned.table, bytes, from, this.maxLineBytes, meta, ids, latency, fresh, freshTuples);
      if (meta[M.reset] === 1) {
        names.length = 0;
        tuples.length = 0;
        scanned.epoch += 1;
      }
      for (const name of fresh) names.push(name);
      fresh.length = 0;
      const added = (meta[M.tuples] as number) * TUPLE_INTS;
      for (let i = 0; i < added; i += 1) tuples.push(freshTuples[i] as number);
      const records = meta[M.records] as number;
      this.records += records;
      this.lineNo += meta[M.lines] as number;
      this.tally.scanned(ids, latency, records, tuples, names, scanned.epoch);
      // Azure's own time form, which alone the scanner reads: its text is its key.
      if ((meta[M.minLength] as number) > 0) {
        const at = meta[M.minAt] as number;
        const min = bytes.toString('latin1', at, at + (meta[M.minLength] as number));
        this.tally.observe(min, min);
        const to = meta[M.maxAt] as number;
        const max = bytes.toString('latin1', to, to + (meta[M.maxLength] as number));
        this.tally.observe(max, max);
      }
      from = meta[M.stop] as number;
      if (meta[M.status] === STOP_LINE) {
        const end = bytes.indexOf(NEWLINE, from) + 1;
        this.piece(bytes.subarray(from, end));
        from = end;
      }
    }
  }

  private piece(bytes: Buffer): void {
    const text = bytes.toString('latin1');
    // A piece of ASCII (the usual case, one native check) is read line by line as text. In one
    // with bytes past ASCII somewhere, a line is read as bytes (only the strings the report reads
    // are decoded, and only those past ASCII: an ASCII line gives the same), unless it has `\u`
    // escapes, whose characters are not bytes: such a line is decoded whole first if it has bytes
    // past ASCII. No scan for where those bytes are: it cost more than the decoding it spared.
    const ascii = isAscii(bytes);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.lineNo += 1;
      if (nl - start > this.maxLineBytes) {
        this.tally.malformed(); // too long to parse (the line ended within one chunk)
      } else if (ascii) {
        this.line(text.slice(start, nl));
      } else {
        const line = text.slice(start, nl);
        if (!line.includes('\\u')) this.line(line, true);
        else if (HIGH.test(line)) this.line(bytes.toString('utf8', start, nl));
        else this.line(line);
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

  /** One value of the {"records": [...]} form, as Latin-1 text of its bytes: read as `lines` reads a line. */
  private value(text: string): void {
    if (!HIGH.test(text)) this.line(text);
    else if (text.includes('\\u')) this.line(Buffer.from(text, 'latin1').toString('utf8'));
    else this.line(text, true);
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
    const facts = recordFacts(record, bytes);
    this.tally.record(facts);
    if (this.rows) {
      // The {"records": [...]} form has no lines to speak of: its records are numbered in order.
      if (this.stream) this.lineNo += 1;
      this.rows.add(this.lineNo, facts);
    }
  }
}

/** The tuples seen on this thread, shared by its parsers: the same few recur in every blob. */
const combos = new ComboIndex();

/** Records the native scanner reads in one call at most. */
const SCAN_RECORDS = 4096;
/**
 * The native scanner's table and buffers, one set per thread: `names` and `tuples` mirror the
 * table (an id is an index), and `epoch` counts the times the table started afresh.
 */
const scanned: {
  table: ValueTable | null;
  meta: Int32Array;
  ids: Int32Array;
  latency: Float64Array;
  fresh: string[];
  freshTuples: Int32Array;
  names: string[];
  tuples: number[];
  epoch: number;
} = {
  table: null,
  meta: new Int32Array(M.size),
  ids: new Int32Array(SCAN_RECORDS),
  latency: new Float64Array(SCAN_RECORDS),
  fresh: [],
  freshTuples: new Int32Array(SCAN_RECORDS * TUPLE_INTS),
  names: [],
  tuples: [],
  epoch: 0,
};

/** Status codes as the text the counters hold. */
const STATUS_TEXT: string[] = [];
function statusText(code: number): string {
  let text = STATUS_TEXT[code];
  if (text === undefined) {
    text = String(code);
    STATUS_TEXT[code] = text;
  }
  return text;
}

/** Parses a whole blob held in memory (tests, small inputs). */
export function parseBlob(
  bytes: Uint8Array,
  resume?: Resume,
  limits?: ParseLimits,
  rows?: RowCollector,
): TaskResult {
  const parser = new BlobParser(resume, undefined, limits, rows);
  parser.push(bytes);
  return parser.end();
}
