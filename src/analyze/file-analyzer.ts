// One file's analysis, fed one physical line at a time: events assembled (a traceback or a stack
// trace is one event), levels counted, errors categorised, templates mined, training metrics and
// API requests collected. Pure: no I/O; the result is plain data that merges with other files'.
import { ApiCounter, type ApiTally, requestFromAccess, requestFromFields, requestFromText } from './api.js';
import { DRAIN_DEFAULTS, Drain, type DrainOptions, seen } from './drain.js';
import { detectFormat, type Header, headerFormatOf, type LogFormat, parseAnyHeader } from './formats.js';
import { emptyLevelCounts, isErrorLevel, type Level } from './levels.js';
import { type Category, categorise, type Rule, type Severity } from './rules.js';
import { clip, lastSegment, shownText, stripAnsi } from './text.js';
import { isoOfKey, NO_TIME, timeKey } from './time.js';
import { TRAINING_HINT, TrainingParser, type TrainingRun } from './training.js';

export interface AnalyzeOptions {
  /** A format to force, or `auto` to detect it from the file's first lines. */
  format: LogFormat | 'auto';
  rules: readonly Rule[];
  /** Requests at least this slow are slow requests. */
  slowMs: number;
  drain: DrainOptions;
  /** Year for timestamps that carry none (syslog, glog). */
  year: number;
}

export const ANALYZE_DEFAULTS: AnalyzeOptions = {
  format: 'auto',
  rules: [],
  slowMs: 1000,
  drain: DRAIN_DEFAULTS,
  year: new Date().getUTCFullYear(),
};

/** Lines read before the format is decided. */
export const DETECT_SAMPLE = 200;
/** Continuation lines kept per event for categorising (the rest are counted, not kept). */
const MAX_EVENT_LINES = 60;
export const MAX_EXAMPLES = 3;
const EXAMPLE_CHARS = 300;
/** Event texts whose rule is remembered: at most this many, of at most this many characters. */
const MAX_REMEMBERED_RULES = 1000;
const MAX_REMEMBERED_TEXT = 8192;

export interface EventRow {
  line: number;
  time: string | null;
  level: Level | null;
  /** The cluster's index in this file's Drain state (-1 when templates were capped). */
  cluster: number;
  message: string;
  /** The error category, for events at ERROR or CRITICAL. */
  category: Category | null;
}

export interface ErrorExample {
  file: string;
  line: number;
  message: string;
}

export interface CategoryTally {
  category: Category;
  severity: Severity;
  count: number;
  examples: ErrorExample[];
  /** rule name -> [count, advice, severity] */
  rules: Record<string, { count: number; advice: string; severity: Severity }>;
}

export interface Skipped {
  longLines: number;
  invalidUtf8Lines: number;
  /** Why the whole file was skipped (binary, unreadable), if it was. */
  file: string | null;
}

export interface FileSummary {
  path: string;
  format: LogFormat;
  lines: number;
  events: number;
  levels: Record<Level, number>;
  noLevel: number;
  first: string | null;
  last: string | null;
  errors: Partial<Record<Category, CategoryTally>>;
  clusters: {
    tokens: string[];
    count: number;
    levels: Partial<Record<Level, number>>;
    firstSeen: string | null;
    lastSeen: string | null;
  }[];
  templateOverflow: number;
  training: TrainingRun | null;
  api: ApiTally;
  skipped: Skipped;
  /**
   * A segment of a file (segments.ts) does not parse training output, whose state runs across
   * lines: it says here whether any of its lines could be some (TRAINING_HINT).
   */
  trainingHint?: boolean;
}

interface PendingEvent {
  line: number;
  header: Header | null;
  first: string;
  more: string[];
  traceback: boolean;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

export function higherSeverity(a: Severity, b: Severity): Severity {
  return SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b;
}

// Lines that continue the event before them even when the file has no headers.
const CONTINUATION =
  /^(?:\s|Caused by:|During handling of the above|The above exception|\.\.\. \d+ more|Suppressed:)/;
const TRACEBACK = /^Traceback \(most recent call last\)/;
// The last line of a Python traceback, or an exception line starting an unheadered event.
const EXCEPTION_LINE = /^(?:[\w.]+(?:Error|Exception|Interrupt|Exit|Warning)|[\w.]+\.\w*Error)(?::|$)/;

/** Whether a line is all `\s` (or empty): a line starting with a printable ASCII character is not. */
function isBlank(text: string): boolean {
  const first = text.charCodeAt(0);
  return !(first > 32 && first < 127) && text.trim() === '';
}

/** The format of a file whose first lines (at most DETECT_SAMPLE, each without its `\r\n`) these are. */
export function detectFileFormat(lines: readonly string[]): LogFormat {
  return detectFormat(lines.map((text) => lastSegment(stripAnsi(text))));
}

/**
 * Whether this line starts an event whatever came before it (it has a header of `format`'s kind
 * or another's): where a file can be cut into segments that are read apart.
 */
export function startsEvent(raw: string, format: LogFormat): boolean {
  const shown = shownText(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
  return shown.trim() !== '' && parseAnyHeader(shown, headerFormatOf(format)) !== null;
}

export class FileAnalyzer {
  private format: LogFormat | null;
  private headerFormat: LogFormat = 'plain';
  private sample: [string, number][] | null = [];
  private pending: PendingEvent | null = null;
  private readonly drain: Drain;
  private readonly training: TrainingParser;
  private readonly api: ApiCounter;
  private readonly summary: FileSummary;
  /** Rules met by event texts seen (categorising is a pure function of the text). */
  private readonly rules = new Map<string, Rule>();
  /** The earliest and latest event times, as keys (the summary's are their text, set at the end). */
  private first = NO_TIME;
  private last = NO_TIME;

  constructor(
    readonly path: string,
    private readonly options: AnalyzeOptions = ANALYZE_DEFAULTS,
    private readonly onEvent?: (row: EventRow) => void,
    /** Reads a segment of a file (segments.ts): its format is given, training is only looked for. */
    private readonly segment = false,
  ) {
    this.format = options.format === 'auto' ? null : options.format;
    if (this.format) this.decided(this.format);
    this.drain = new Drain(options.drain);
    this.training = new TrainingParser(path, options.format === 'metrics-csv');
    this.api = new ApiCounter(options.slowMs);
    this.summary = {
      path,
      format: this.format ?? 'plain',
      lines: 0,
      events: 0,
      levels: emptyLevelCounts(),
      noLevel: 0,
      first: null,
      last: null,
      errors: {},
      clusters: [],
      templateOverflow: 0,
      training: null,
      api: this.api.toData(),
      skipped: { longLines: 0, invalidUtf8Lines: 0, file: null },
      ...(segment ? { trainingHint: false } : {}),
    };
  }

  private decided(format: LogFormat): void {
    this.format = format;
    this.headerFormat = headerFormatOf(format);
    this.sample = null;
  }

  /** One physical line (without its `\n`; a `\r` before it is dropped here). `number` is 1-based. */
  line(raw: string, number: number): void {
    const text = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    this.summary.lines += 1;
    if (this.sample) {
      this.sample.push([text, number]);
      if (this.sample.length >= DETECT_SAMPLE) this.flushSample();
      return;
    }
    this.process(text, number);
  }

  skipLongLine(): void {
    this.summary.lines += 1;
    this.summary.skipped.longLines += 1;
  }

  invalidUtf8(): void {
    this.summary.skipped.invalidUtf8Lines += 1;
  }

  skipFile(reason: string): void {
    this.summary.skipped.file = reason;
  }

  private flushSample(): void {
    const sample = this.sample ?? [];
    const format = detectFileFormat(sample.map(([text]) => text));
    this.decided(format);
    if (format === 'metrics-csv') this.training.metricsCsv = true;
    this.summary.format = format;
    for (const [text, number] of sample) this.process(text, number);
  }

  private process(text: string, number: number): void {
    if (!this.segment) this.training.line(text);
    else if (!this.summary.trainingHint && TRAINING_HINT.test(text)) this.summary.trainingHint = true;
    if (this.format === 'metrics-csv') return;
    const shown = shownText(text);
    if (isBlank(shown)) return;
    const header =
      this.headerFormat === 'plain'
        ? parseAnyHeader(shown, 'plain')
        : parseAnyHeader(shown, this.headerFormat);
    const pending = this.pending;
    if (header) {
      this.flush();
      this.pending = { line: number, header, first: shown, more: [], traceback: false };
      return;
    }
    const continues =
      pending &&
      (this.headerFormat !== 'plain'
        ? pending.header !== null || CONTINUATION.test(shown)
        : CONTINUATION.test(shown) ||
          (pending.traceback && EXCEPTION_LINE.test(shown)) ||
          // `logger.exception()`: the log line, then its traceback.
          (pending.header !== null && pending.more.length === 0 && TRACEBACK.test(shown)));
    if (pending && continues) {
      if (pending.more.length < MAX_EVENT_LINES) pending.more.push(shown);
      if (TRACEBACK.test(shown)) pending.traceback = true;
      // A traceback ends at its exception line.
      if (pending.traceback && EXCEPTION_LINE.test(shown)) pending.traceback = false;
      return;
    }
    this.flush();
    this.pending = {
      line: number,
      header: null,
      first: shown,
      more: [],
      traceback: TRACEBACK.test(shown),
    };
  }

  private flush(): void {
    const event = this.pending;
    if (!event) return;
    this.pending = null;
    const s = this.summary;
    s.events += 1;
    const header = event.header;
    const message = header ? header.message : event.first;
    let level = header?.level ?? null;
    // An unheadered traceback or exception line is an error even without a level word.
    if (
      !level &&
      !header &&
      (/^Traceback \(most recent/.test(event.first) || EXCEPTION_LINE.test(event.first))
    ) {
      level = /Warning(?::|$)/.test(event.first) && event.more.length === 0 ? 'WARNING' : 'ERROR';
    }
    const time = !header?.time ? NO_TIME : (header.key ?? timeKey(header.time, this.options.year));
    if (level) s.levels[level] += 1;
    else s.noLevel += 1;
    if (time >= 0) {
      if (this.first < 0 || time < this.first) this.first = time;
      if (time > this.last) this.last = time;
    }
    const cluster = this.drain.add(message, level, time);
    // An event with no level counts as an error only when a critical rule names it (an OOM kill
    // in syslog, `loss: nan` in training output): milder words in unleveled lines are too often benign.
    const category = isErrorLevel(level)
      ? this.error(event, message, level === 'CRITICAL')
      : level === null && this.criticalRule(event, message)
        ? this.error(event, message, false)
        : null;
    const request = header?.fields
      ? this.summary.format === 'access' || 'request' in header.fields
        ? requestFromAccess(header.fields)
        : requestFromFields(header.fields)
      : requestFromText(message);
    if (request) this.api.add(request, this.path, event.line);
    this.onEvent?.({
      line: event.line,
      time: isoOfKey(time) ?? header?.time ?? null,
      level,
      cluster,
      message,
      category,
    });
  }

  private criticalRule(event: PendingEvent, message: string): boolean {
    const full = event.more.length > 0 ? `${message}\n${event.more.join('\n')}` : message;
    return this.ruleFor(full).severity === 'critical';
  }

  /** The rule an event's text meets; the same errors recur (a stack trace hundreds of times): remembered. */
  private ruleFor(full: string): Rule {
    if (full.length > MAX_REMEMBERED_TEXT) return categorise(full, this.options.rules);
    let rule = this.rules.get(full);
    if (!rule) {
      rule = categorise(full, this.options.rules);
      if (this.rules.size >= MAX_REMEMBERED_RULES) this.rules.clear();
      this.rules.set(full, rule);
    }
    return rule;
  }

  private error(event: PendingEvent, message: string, critical: boolean): Category {
    const full = event.more.length > 0 ? `${message}\n${event.more.join('\n')}` : message;
    const rule = this.ruleFor(full);
    const severity = critical ? higherSeverity(rule.severity, 'high') : rule.severity;
    let tally = this.summary.errors[rule.category];
    if (!tally) {
      tally = { category: rule.category, severity, count: 0, examples: [], rules: {} };
      this.summary.errors[rule.category] = tally;
    }
    tally.count += 1;
    tally.severity = higherSeverity(tally.severity, severity);
    const r = tally.rules[rule.name] ?? { count: 0, advice: rule.advice, severity: rule.severity };
    r.count += 1;
    tally.rules[rule.name] = r;
    if (tally.examples.length < MAX_EXAMPLES) {
      // The line that says what went wrong: for a traceback, its last line.
      const said = event.more.length > 0 ? `${message} … ${event.more.at(-1)?.trim()}` : message;
      tally.examples.push({ file: this.path, line: event.line, message: clip(said, EXAMPLE_CHARS) });
    }
    return rule.category;
  }

  /**
   * Settles what is waiting (following a file): decides the format from the lines so far and
   * ends the event being assembled, so its alerts are not held back until the next line.
   */
  settle(): void {
    if (this.sample) this.flushSample();
    this.flush();
  }

  /** The summary so far, without ending anything (a live view while following). */
  snapshot(): FileSummary {
    return {
      ...this.summary,
      first: isoOfKey(this.first),
      last: isoOfKey(this.last),
      clusters: this.drain.clusters.map((c) => ({
        tokens: [...c.tokens],
        count: c.count,
        levels: { ...c.levels },
        ...seen(c),
      })),
      templateOverflow: this.drain.overflow,
      training: this.training.finish(),
      api: this.api.toData(),
    };
  }

  finish(): FileSummary {
    if (this.sample) this.flushSample();
    this.flush();
    const s = this.summary;
    s.first = isoOfKey(this.first);
    s.last = isoOfKey(this.last);
    s.clusters = this.drain.clusters.map((c) => ({
      tokens: c.tokens,
      count: c.count,
      levels: c.levels,
      ...seen(c),
    }));
    s.templateOverflow = this.drain.overflow;
    s.training = this.training.finish();
    s.api = this.api.toData();
    return s;
  }
}

/** Analyses a whole text at once (tests, small inputs). */
export function analyzeText(
  path: string,
  text: string,
  options?: Partial<AnalyzeOptions>,
  onEvent?: (row: EventRow) => void,
): FileSummary {
  const analyzer = new FileAnalyzer(path, { ...ANALYZE_DEFAULTS, ...options }, onEvent);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, line] of lines.entries()) analyzer.line(line, i + 1);
  return analyzer.finish();
}
