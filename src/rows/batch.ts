// One row per log record, gathered column by column on the parser's thread: numbers in typed arrays,
// the few repeating names as codes into a small dictionary, so a batch crosses threads as a handful of
// buffers rather than millions of objects. Built only when rows are kept (`--keep-rows`).
import type { RecordFacts, StatusClass } from '../tasks/azure-logs/record.js';
import { STATUS_CLASSES } from '../tasks/azure-logs/record.js';

/** The named text columns, stored as dictionary codes (-1 for none). */
export const NAMED = ['model', 'model_version', 'deployment', 'operation', 'category', 'resource'] as const;
export type Named = (typeof NAMED)[number];

/** A batch as it crosses threads: plain data (typed arrays and strings), structured-clone friendly. */
export interface RowBatchData {
  count: number;
  /** Rows `[from, to)` of the batch belong to item `id` (a group's batch holds several items). */
  items: { id: string; from: number; to: number }[];
  /** 1-based line in the blob (for the {"records": [...]} form: the record's index in the blob). */
  line: Float64Array;
  /** Microseconds since the epoch, UTC; NaN for a record without a usable time. */
  time: Float64Array;
  /** The record's UTC day (`YYYY-MM-DD`) as a code into `days`, -1 for none. */
  day: Int32Array;
  days: string[];
  /** HTTP status 100..599, 0 for none. */
  status: Int16Array;
  /** Index into STATUS_CLASSES. */
  statusClass: Uint8Array;
  /** Latency, ms; NaN for none. */
  durationMs: Float64Array;
  /** Per named column: codes into `dictionary` (the batch's one dictionary of names). */
  named: Record<Named, Int32Array>;
  dictionary: string[];
}

/** Each status class's index in STATUS_CLASSES, by name. */
const CLASS_INDEX = Object.fromEntries(STATUS_CLASSES.map((c, i) => [c, i])) as Record<StatusClass, number>;

/** The hour last turned into ms (records of one blob share an hour or two): Date.parse once per hour. */
let hourKey = '\0';
let hourMs = 0;

const digit = (key: string, at: number) => key.charCodeAt(at) - 48;

/**
 * Microseconds since the epoch of a record time key (`YYYY-MM-DDTHH:MM:SS.fffffffZ`, see recordTime),
 * read digit by digit: slicing it cost a string or two per record.
 */
export function timeMicros(key: string): number {
  if (!key.startsWith(hourKey)) {
    hourKey = key.slice(0, 13);
    hourMs = Date.parse(`${hourKey}:00:00Z`);
  }
  const minute = digit(key, 14) * 10 + digit(key, 15);
  const second = digit(key, 17) * 10 + digit(key, 18);
  let micros = 0;
  for (let at = 20; at < 26; at += 1) micros = micros * 10 + digit(key, at);
  return (hourMs + minute * 60_000 + second * 1000) * 1000 + micros;
}

/** Strings numbered in order of first sight: the dictionary of a column of few distinct values. */
export class Codes {
  readonly values: string[] = [];
  private readonly codes = new Map<string, number>();

  /** The value's code; -1 for none. */
  of(value: string | null): number {
    if (value === null) return -1;
    let c = this.codes.get(value);
    if (c === undefined) {
      c = this.values.length;
      this.values.push(value);
      this.codes.set(value, c);
    }
    return c;
  }
}

/** Gathers rows; `take` hands them over (with the items they belong to) and starts afresh. */
export class RowCollector {
  private capacity = 0;
  private count = 0;
  private line = new Float64Array(0);
  private time = new Float64Array(0);
  private day = new Int32Array(0);
  private status = new Int16Array(0);
  private statusClass = new Uint8Array(0);
  private durationMs = new Float64Array(0);
  private named = Object.fromEntries(NAMED.map((n) => [n, new Int32Array(0)])) as Record<Named, Int32Array>;
  private dictionary = new Codes();
  private days = new Codes();
  private items: RowBatchData['items'] = [];
  private itemStart = 0;
  /** Per named column, its last value and code: records in a row mostly repeat them. */
  private readonly lastValue: (string | null)[] = NAMED.map(() => null);
  private readonly lastCode = new Int32Array(NAMED.length).fill(-1);
  private lastDay: string | null = null;
  private lastDayCode = -1;

  /** Rows gathered so far (of every item). */
  get size(): number {
    return this.count;
  }

  add(line: number, f: RecordFacts): void {
    if (this.count === this.capacity) this.grow();
    const i = this.count;
    this.count += 1;
    this.line[i] = line;
    const time = f.time;
    if (time) {
      this.time[i] = timeMicros(time.key);
      // Records in a row mostly share their day: its code is looked up when it changes.
      if (time.day !== this.lastDay) {
        this.lastDay = time.day;
        this.lastDayCode = this.days.of(time.day);
      }
      this.day[i] = this.lastDayCode;
    } else {
      this.time[i] = Number.NaN;
      this.day[i] = -1;
    }
    this.status[i] = f.code ?? 0;
    this.statusClass[i] = CLASS_INDEX[f.cls];
    this.durationMs[i] = f.latencyMs ?? Number.NaN;
    this.named.model[i] = this.code(0, f.model);
    this.named.model_version[i] = this.code(1, f.version);
    this.named.deployment[i] = this.code(2, f.deployment);
    this.named.operation[i] = this.code(3, f.operation);
    this.named.category[i] = this.code(4, f.category);
    this.named.resource[i] = this.code(5, f.resource);
  }

  /** The code of named column `k`'s value (NAMED order). */
  private code(k: number, value: string | null): number {
    if (value === this.lastValue[k]) return this.lastCode[k] as number;
    const c = this.dictionary.of(value);
    this.lastValue[k] = value;
    this.lastCode[k] = c;
    return c;
  }

  /** The rows added since the last call belong to item `id`. */
  endItem(id: string): void {
    if (this.count > this.itemStart) this.items.push({ id, from: this.itemStart, to: this.count });
    this.itemStart = this.count;
  }

  /** Drops the rows added since the last endItem (an item that failed midway). */
  dropItem(): void {
    this.count = this.itemStart;
  }

  take(): RowBatchData {
    const n = this.count;
    const batch: RowBatchData = {
      count: n,
      items: this.items,
      line: this.line.slice(0, n),
      time: this.time.slice(0, n),
      day: this.day.slice(0, n),
      days: this.days.values,
      status: this.status.slice(0, n),
      statusClass: this.statusClass.slice(0, n),
      durationMs: this.durationMs.slice(0, n),
      named: Object.fromEntries(NAMED.map((c) => [c, this.named[c].slice(0, n)])) as Record<
        Named,
        Int32Array
      >,
      dictionary: this.dictionary.values,
    };
    this.count = 0;
    this.itemStart = 0;
    this.items = [];
    this.dictionary = new Codes();
    this.days = new Codes();
    this.lastValue.fill(null);
    this.lastCode.fill(-1);
    this.lastDay = null;
    this.lastDayCode = -1;
    return batch;
  }

  private grow(): void {
    const capacity = Math.max(1024, this.capacity * 2);
    const grown = <T extends Float64Array | Int32Array | Int16Array | Uint8Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.line = grown(this.line, (n) => new Float64Array(n));
    this.time = grown(this.time, (n) => new Float64Array(n));
    this.day = grown(this.day, (n) => new Int32Array(n));
    this.status = grown(this.status, (n) => new Int16Array(n));
    this.statusClass = grown(this.statusClass, (n) => new Uint8Array(n));
    this.durationMs = grown(this.durationMs, (n) => new Float64Array(n));
    for (const c of NAMED) this.named[c] = grown(this.named[c], (n) => new Int32Array(n));
    this.capacity = capacity;
  }
}
