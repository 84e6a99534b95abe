// Log formats: how to find an event's header (time, level, component, message) in one line, and
// which format a file is written in. Pure functions over strings.
import { groupsOf, type Positional, positional } from './groups.js';
import { type Level, normaliseLevel, syslogSeverity } from './levels.js';
import { dayClock, fractionMs, type TimeKey } from './time.js';

export const LOG_FORMATS = [
  'log4j',
  'python',
  'oslo',
  'glog',
  'syslog',
  'access',
  'apache-error',
  'nginx-error',
  'jsonl',
  'logfmt',
  'keras',
  'lightning',
  'huggingface',
  'metrics-csv',
  'plain',
] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What the start of an event says about it. `fields` holds a structured line's own keys. */
export interface Header {
  time: string | null;
  /** The time's key (time.ts), when the header's reader has read it already. */
  key?: TimeKey;
  level: Level | null;
  component: string | null;
  message: string;
  fields?: Record<string, unknown>;
}

const LEVEL_WORDS =
  'TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL|CRIT|EMERG|ALERT|FINE|FINER|FINEST|CONFIG';
const TIME_SOURCES = [
  String.raw`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?`,
  String.raw`\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?`,
  String.raw`\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}`,
  String.raw`\d{6} \d{6}`,
];
const TIME = `(?:${TIME_SOURCES.join('|')})`;
// A thread block may nest one level of brackets: [QuorumPeer[myid=1]/0:0:0:0:2181:FastLeaderElection@774]
const THREAD = String.raw`\[(?:[^\[\]]|\[[^\]]*\])*\]`;

interface TextFormat {
  name: LogFormat;
  pattern: RegExp;
  /** Optional fix-ups after the match (syslog PRI, Apache module). */
  level?: (groups: Record<string, string | undefined>) => Level | null;
}

const TEXT_FORMATS: TextFormat[] = [
  {
    // Python logging's `%(asctime)s - %(name)s - %(levelname)s - %(message)s`.
    name: 'python',
    pattern: new RegExp(
      String.raw`^\[?(?<time>${TIME})\]?\s+-\s+(?<component>\S+)\s+-\s+(?<level>${LEVEL_WORDS})\s+-\s(?<msg>.*)$`,
    ),
  },
  {
    // Python's default `LEVEL:name:message` (basicConfig), e.g. `WARNING:tensorflow:...`.
    name: 'python',
    pattern: new RegExp(String.raw`^(?<level>${LEVEL_WORDS}):(?<component>[\w.<>-]*):(?<msg>.*)$`),
  },
  {
    // oslo.log (OpenStack): time pid LEVEL component [request context] message; loghub prefixes a file name.
    name: 'oslo',
    pattern: new RegExp(
      String.raw`^(?:\S+\s+)?(?<time>${TIME})\s+(?<pid>\d+)\s+(?<level>${LEVEL_WORDS})\s+(?<component>[\w.]+)\s+(?:\[(?<ctx>[^\]]*)\]\s?)?(?<msg>.*)$`,
    ),
  },
  {
    // log4j, logback, Spark, Hadoop, ZooKeeper, Flask...: time [pid] [-] LEVEL [thread] [component:|-] message.
    name: 'log4j',
    pattern: new RegExp(
      String.raw`^\[?(?<time>${TIME})\]?\s+(?:(?<pid>\d+)\s+)?(?:-\s+)?\[?(?<level>${LEVEL_WORDS})\]?:?(?:\s+|$)(?:(?<thread>${THREAD})\s*)?(?:(?:in\s+)?(?<component>[A-Za-z_][\w.$-]*(?:@\d+)?):(?:\s+|$)|-\s+)?(?<msg>.*)$`,
    ),
  },
  {
    // glog: I0302 10:00:01.123456  1234 file.cc:123] message
    name: 'glog',
    pattern:
      /^(?<level>[IWEF])(?<time>\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?)\s+(?<pid>\d+)\s+(?<component>[^\]\s]+)\]\s?(?<msg>.*)$/,
  },
  {
    // TensorFlow's C++ logging: 2025-03-02 10:00:01.123456: W tensorflow/core/...] message
    name: 'glog',
    pattern: new RegExp(
      String.raw`^(?<time>${TIME}):\s(?<level>[IWEF])\s(?<component>[^\]\s]+)\]\s?(?<msg>.*)$`,
    ),
  },
  {
    // nginx error log: 2024/01/01 12:00:00 [error] 123#0: *1 message
    name: 'nginx-error',
    pattern:
      /^(?<time>\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}) \[(?<level>\w+)\] (?<pid>\d+)#\d+: (?:\*\d+ )?(?<msg>.*)$/,
  },
  {
    // Apache error log: [Wed Oct 11 14:32:52.123 2000] [core:error] [pid 1] [client 1.2.3.4:5] message
    name: 'apache-error',
    pattern:
      /^\[(?<time>[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} [\d:.]+ \d{4})\] \[(?:(?<component>[\w-]+):)?(?<level>\w+)\] (?:\[pid [^\]]*\] )?(?:\[client [^\]]*\] )?(?<msg>.*)$/,
  },
  {
    // RFC 5424 syslog: <34>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] message
    name: 'syslog',
    pattern: /^<(?<pri>\d{1,3})>1 (?<time>\S+) \S+ (?<component>\S+) \S+ \S+ (?:-|\[.*?\]) ?(?<msg>.*)$/,
    level: (g) => syslogSeverity(Number(g.pri) & 7),
  },
  {
    // BSD syslog: [<pri>]Jun 14 15:16:01 host process[pid]: message (also with an ISO time)
    name: 'syslog',
    pattern:
      /^(?:<(?<pri>\d{1,3})>)?(?<time>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?) (?<host>[\w.-]+) (?<component>[^:[\s]+)(?:\[\d+\])?: ?(?<msg>.*)$/,
    level: (g) => (g.pri ? syslogSeverity(Number(g.pri) & 7) : null),
  },
  {
    // Apache/nginx access log (common or combined, optionally followed by a request time).
    name: 'access',
    pattern:
      /^(?<client>\S+) \S+ \S+ \[(?<time>[^\]]+)\] "(?<request>[^"]*)" (?<status>\d{3}) (?<bytes>\d+|-)(?<rest>.*)$/,
    level: () => null,
  },
];

const JSON_LEVEL_KEYS = [
  'level',
  'severity',
  'lvl',
  'loglevel',
  'log.level',
  'levelname',
  '@l',
  'log_level',
  'status_level',
];
const JSON_MESSAGE_KEYS = ['message', 'msg', '@m', '@mt', 'text', 'log', 'event', 'error'];
const JSON_TIME_KEYS = [
  'time',
  'timestamp',
  'ts',
  '@timestamp',
  '@t',
  'datetime',
  'date',
  'asctime',
  'time_local',
  'eventTime',
];

/** A value at `key`, where a dotted key may also be a path into nested objects. */
export function lookup(fields: Record<string, unknown>, key: string): unknown {
  if (key in fields) return fields[key];
  if (!key.includes('.')) return undefined;
  let at: unknown = fields;
  for (const part of key.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

export function firstOf(fields: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const key of keys) {
    const value = lookup(fields, key);
    if (value !== undefined && value !== null && value !== '') return value;
  }
  return undefined;
}

function structuredHeader(fields: Record<string, unknown>, line: string): Header {
  const level = firstOf(fields, JSON_LEVEL_KEYS);
  const time = firstOf(fields, JSON_TIME_KEYS);
  const message = firstOf(fields, JSON_MESSAGE_KEYS);
  return {
    time: typeof time === 'string' || typeof time === 'number' ? String(time) : null,
    level: typeof level === 'string' || typeof level === 'number' ? normaliseLevel(level) : null,
    component: stringOrNull(firstOf(fields, ['logger', 'name', 'logger_name', 'component', 'module'])),
    message: typeof message === 'string' ? message : line,
    fields,
  };
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export function parseJsonLine(line: string): Header | null {
  if (line.charCodeAt(0) !== 123 /* { */ || !line.trimEnd().endsWith('}')) return null;
  try {
    const fields = JSON.parse(line) as unknown;
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) return null;
    return structuredHeader(fields as Record<string, unknown>, line);
  } catch {
    return null;
  }
}

const LOGFMT_PAIR = /([A-Za-z_@][\w.@-]*)=("(?:[^"\\]|\\.)*"|\S*)/g;

export function parseLogfmtLine(line: string): Header | null {
  if (!/^[A-Za-z_@][\w.@-]*=/.test(line)) return null;
  const fields: Record<string, unknown> = {};
  let pairs = 0;
  for (const m of line.matchAll(LOGFMT_PAIR)) {
    const raw = m[2] ?? '';
    fields[m[1] as string] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    pairs += 1;
  }
  if (pairs < 2) return null;
  return structuredHeader(fields, line);
}

/** The text formats as headers are read: the same patterns with their groups by position. */
const READ_FORMATS: (TextFormat & Positional)[] = TEXT_FORMATS.map((f) => ({
  ...f,
  ...positional(f.pattern.source, f.pattern.flags),
}));

function fromMatch(format: TextFormat & Positional, m: RegExpExecArray): Header {
  const { at } = format;
  const group = (name: string) => {
    const i = at[name];
    return i === undefined ? undefined : m[i];
  };
  const level = format.level ? format.level(groupsOf(m, at)) : normaliseLevel(group('level'));
  const header: Header = {
    time: group('time') ?? null,
    level,
    component: group('component') ?? null,
    message: group('msg') ?? '',
  };
  if (format.name === 'access') {
    // The request line is the message: the client, time and sizes vary on every line.
    header.message = `${group('request') ?? ''} ${group('status') ?? ''}`;
    header.fields = groupsOf(m, at);
  }
  return header;
}

/** The header of `line` in `format`, or null when the line does not start an event in it. */
export function parseHeader(line: string, format: LogFormat): Header | null {
  if (format === 'jsonl') return parseJsonLine(line);
  if (format === 'logfmt') return parseLogfmtLine(line);
  if (format === 'log4j') {
    const read = log4jHeader(line);
    if (read !== undefined) return read;
  }
  return headerByPattern(line, format);
}

/** The header of `line` in a text format, by the format's pattern alone (no fast path). */
export function headerByPattern(line: string, format: LogFormat): Header | null {
  for (const f of READ_FORMATS) {
    if (f.name !== format) continue;
    const m = f.pattern.exec(line);
    if (m) return fromMatch(f, m);
  }
  return null;
}

/** The level words of the log4j pattern, each with the level it stands for. */
const LOG4J_LEVELS = new Map<string, Level | null>(LEVEL_WORDS.split('|').map((w) => [w, normaliseLevel(w)]));
/**
 * The front of the log4j pattern's commonest case: a zoneless time (fraction captured), spaces, a
 * word in capitals (captured), spaces, an optional `[thread]` without nested brackets, optional
 * spaces, an optional `component: ` (captured). One pass of V8's pattern code: it reads a slice of
 * a line several times faster than a loop of `charCodeAt`.
 */
const LOG4J_FRONT =
  /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,](\d+))? +([A-Z]+) +(?:\[[^[\]]*\] *)?(?:([A-Za-z_][\w.$-]*): +)?/;

/**
 * What the rest of a line may not hold for the pattern's `(.*)$` to take it all, besides `\r` and
 * `\n`, which are looked for with `indexOf` (cheaper than one pattern for all four).
 */
const WIDE_LINE_BREAKS = /[\u2028\u2029]/;

const isDigit = (c: number) => c >= 48 && c <= 57;

/** A printable ASCII character other than a space: nothing `\s` would take. */
const isPlain = (c: number) => c > 32 && c < 127;
/** ASCII characters by class: 1 `[A-Za-z_]`, 2 the rest of `[\w.$-]`. */
const COMPONENT_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  COMPONENT_CLASS[c] = /[A-Za-z_]/.test(ch) ? 1 : /[\w.$-]/.test(ch) ? 2 : 0;
}
/** `[A-Za-z_]` */
const isWordStart = (c: number) => COMPONENT_CLASS[c] === 1;
/** `[\w.$-]` */
const isComponentChar = (c: number) => (COMPONENT_CLASS[c] ?? 0) > 0;

/**
 * The log4j pattern's commonest case, read as the full pattern reads it but by LOG4J_FRONT and a few
 * checks: `2015-10-18 18:01:47,978` (`T` or a space, an optional fraction), spaces, a level word,
 * spaces, an optional `[thread]` without nested brackets, an optional `component:`, the message.
 * A line that does not start with `[` or a digit is no header; anything else the pattern allows (a
 * zone, a pid, `[LEVEL]`, tabs, nested brackets, `in component:`, `-`) is left to it: undefined.
 */
export function log4jHeader(line: string): Header | null | undefined {
  const first = line.charCodeAt(0);
  if (first !== 91 && !isDigit(first)) return null;
  const m = LOG4J_FRONT.exec(line);
  if (!m) return undefined;
  const level = LOG4J_LEVELS.get(m[2] as string);
  if (level === undefined) return null; // no level word: the pattern has no other way to match
  const fraction = m[1];
  const key = dayClock(line, fraction === undefined ? 0 : fractionMs(fraction, 0, fraction.length));
  if (key === undefined) return undefined;
  const time = line.slice(0, fraction === undefined ? 19 : 20 + fraction.length);
  let at = m[0].length;
  let component = m[3] ?? null;
  if (component === null) {
    // No `component: ` was taken: what stands here decides whether the pattern would read the
    // rest as the message. A `[` is a thread the front does not read (nested, or not closed).
    const c = line.charCodeAt(at);
    if (c === 45 || c === 91) return undefined;
    if (isWordStart(c)) {
      let end = at + 1;
      while (isComponentChar(line.charCodeAt(end))) end += 1;
      const after = line.charCodeAt(end);
      if (after === 64) return undefined; // component@123
      if (after === 32 && end - at === 2 && line.startsWith('in', at)) return undefined;
      if (after === 58) {
        const next = line.charCodeAt(end + 1);
        // At the end of the line, a component with an empty message; before another `\s`, a component.
        if (end + 1 === line.length) {
          component = line.slice(at, end);
          at = end + 1;
        } else if (!isPlain(next)) return undefined;
      }
    }
  }
  if (at < line.length && !isPlain(line.charCodeAt(at))) return undefined;
  const message = line.slice(at);
  if (message.indexOf('\r') >= 0 || message.indexOf('\n') >= 0 || WIDE_LINE_BREAKS.test(message))
    return undefined;
  return { time, key, level, component, message };
}

/**
 * The header of `line` in the file's format, or else in any other format (training output mixes
 * Python logging, TensorFlow's glog lines and progress bars), or null.
 */
export function parseAnyHeader(line: string, preferred: LogFormat): Header | null {
  const own = parseHeader(line, preferred);
  if (own) return own;
  const c = line.charCodeAt(0);
  if (c === 32 || c === 9 || line.length === 0) return null; // indented: a continuation, never a header
  if (c === 123) return parseJsonLine(line);
  for (const f of READ_FORMATS) {
    if (f.name === preferred || f.name === 'access') continue;
    const m = f.pattern.exec(line);
    if (m) return fromMatch(f, m);
  }
  return null;
}

const TRAINING_MARKERS: [RegExp, LogFormat][] = [
  [/^\s*\{'(?:loss|eval_loss|train_runtime|learning_rate|grad_norm)'/, 'huggingface'],
  [/\*{5} Running training \*{5}/, 'huggingface'],
  [/Epoch \d+:\s+\d+%\|/, 'lightning'],
  [/`Trainer\.fit` stopped/, 'lightning'],
  [/^Epoch \d+\/\d+\s*$/, 'keras'],
  [/\d+\/\d+ .*(?:━|\[=*[>.]*=*\]|- \d+m?s).* - loss: /, 'keras'],
  [/^Epoch \d+\/\d+\b.* - loss: /, 'keras'],
];

export function trainingFramework(line: string): LogFormat | null {
  for (const [pattern, name] of TRAINING_MARKERS) if (pattern.test(line)) return name;
  return null;
}

/** Lightning's CSVLogger header: every key in first-seen order, with `epoch` and `step`. */
export function isMetricsCsvHeader(line: string): boolean {
  const cells = line.trim().split(',');
  return cells.length >= 3 && cells.includes('epoch') && cells.includes('step') && !line.includes(' ');
}

/**
 * The format most of `sample` (the first lines of a file, ANSI stripped) is written in. Header
 * formats win when they match at least a third of the non-empty lines; then training output; else
 * the best header format with any match; else `plain`.
 */
export function detectFormat(sample: readonly string[]): LogFormat {
  const lines = sample.filter((l) => l.trim() !== '');
  if (lines.length === 0) return 'plain';
  if (isMetricsCsvHeader(lines[0] as string)) return 'metrics-csv';
  const counts = new Map<LogFormat, number>();
  const training = new Map<LogFormat, number>();
  const add = (map: Map<LogFormat, number>, key: LogFormat) => map.set(key, (map.get(key) ?? 0) + 1);
  for (const line of lines) {
    const framework = trainingFramework(line);
    if (framework) add(training, framework);
    if (parseJsonLine(line)) {
      add(counts, 'jsonl');
      continue;
    }
    if (parseLogfmtLine(line)) {
      add(counts, 'logfmt');
      continue;
    }
    for (const f of TEXT_FORMATS) {
      if (f.pattern.test(line)) {
        add(counts, f.name);
        break;
      }
    }
  }
  const best = [...counts].sort((a, b) => b[1] - a[1])[0];
  if (best && best[1] * 3 >= lines.length) return best[0];
  const trainingBest = [...training].sort((a, b) => b[1] - a[1])[0];
  if (trainingBest) return trainingBest[0];
  return best ? best[0] : 'plain';
}

/** Formats whose lines are read as text headers (the rest are training output or plain). */
export function headerFormatOf(format: LogFormat): LogFormat {
  return format === 'keras' || format === 'lightning' || format === 'huggingface' ? 'plain' : format;
}
