// Timestamps as logs write them, turned into ISO 8601 (UTC when the log gives no zone).

const MONTHS: Record<string, number> = {
  Jan: 1,
  Feb: 2,
  Mar: 3,
  Apr: 4,
  May: 5,
  Jun: 6,
  Jul: 7,
  Aug: 8,
  Sep: 9,
  Oct: 10,
  Nov: 11,
  Dec: 12,
};

/**
 * A time as one number that sorts as its ISO 8601 text does: its fields in positional bases, so
 * comparing two takes no string (building and comparing a text per event cost more than reading
 * it). -1: no time. It stands for years 0 to 9999, the ones ISO 8601 writes with four digits.
 */
export type TimeKey = number;
export const NO_TIME: TimeKey = -1;

function key(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): TimeKey {
  return (((((y * 13 + mo) * 32 + d) * 24 + h) * 60 + mi) * 61 + s) * 1000 + ms;
}

/** The ISO 8601 text (UTC, milliseconds) of a key; null for NO_TIME. */
export function isoOfKey(k: TimeKey): string | null {
  if (k < 0) return null;
  const ms = k % 1000;
  let rest = (k - ms) / 1000;
  const s = rest % 61;
  rest = (rest - s) / 61;
  const mi = rest % 60;
  rest = (rest - mi) / 60;
  const h = rest % 24;
  rest = (rest - h) / 24;
  const d = rest % 32;
  rest = (rest - d) / 32;
  const mo = rest % 13;
  const y = (rest - mo) / 13;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}.${p(ms, 3)}Z`;
}

/** The key of an ISO 8601 text as isoOfKey writes it (NO_TIME for any other text). */
export function keyOfIso(text: string | null | undefined): TimeKey {
  if (text?.length !== 24 || text.charCodeAt(19) !== 46 || text.charCodeAt(23) !== 90) return NO_TIME;
  const ms = threeDigits(text, 20);
  return ms < 0 ? NO_TIME : (dayClock(text, ms) ?? NO_TIME);
}

/** The key of a UTC time given by its fields, or NO_TIME when a field is out of range. */
function fields(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  frac = '',
  zone = 'Z',
): TimeKey {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return NO_TIME;
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  if (zone === 'Z') return key(y, mo, d, h, mi, s, ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return ofDate(new Date(`${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}.${p(ms, 3)}${zone}`));
}

/** The key of a Date (NO_TIME for an invalid one, or one outside years 0 to 9999). */
function ofDate(date: Date): TimeKey {
  const y = date.getUTCFullYear();
  if (Number.isNaN(y) || y < 0 || y > 9999) return NO_TIME;
  return key(
    y,
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    date.getUTCMilliseconds(),
  );
}

/** Group `i` of a match as a number. */
const n = (m: RegExpExecArray, i: number) => Number(m[i]);

const LAYOUTS: [RegExp, (m: RegExpExecArray, year: number) => TimeKey][] = [
  // 2015-10-18 18:01:47,978 / 2024-01-01T12:00:00.123456+02:00 / 2024/01/01 12:00:00
  [
    /^(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$/,
    (m, _) =>
      fields(
        n(m, 1),
        n(m, 2),
        n(m, 3),
        n(m, 4),
        n(m, 5),
        n(m, 6),
        m[7],
        m[8] ? m[8].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2') : 'Z',
      ),
  ],
  // 081109 203615 (HDFS: yyMMdd HHmmss)
  [
    /^(\d{2})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})$/,
    (m) => fields(2000 + n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), n(m, 6)),
  ],
  // 17/06/09 20:10:40 (Spark: yy/MM/dd)
  [
    /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})$/,
    (m) => fields(2000 + n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), n(m, 6)),
  ],
  // 10/Oct/2000:13:55:36 -0700 (access logs)
  [
    /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?: ([+-]\d{2})(\d{2}))?$/,
    (m) =>
      fields(
        n(m, 3),
        MONTHS[m[2] ?? ''] ?? 0,
        n(m, 1),
        n(m, 4),
        n(m, 5),
        n(m, 6),
        m[7],
        m[8] ? `${m[8]}:${m[9]}` : 'Z',
      ),
  ],
  // Wed Oct 11 14:32:52.123456 2000 (Apache error log)
  [
    /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? (\d{4})$/,
    (m) => fields(n(m, 7), MONTHS[m[1] ?? ''] ?? 0, n(m, 2), n(m, 3), n(m, 4), n(m, 5), m[6]),
  ],
  // Jun 14 15:16:01 (syslog: no year, the caller's year is used)
  [
    /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/,
    (m, year) => fields(year, MONTHS[m[1] ?? ''] ?? 0, n(m, 2), n(m, 3), n(m, 4), n(m, 5), m[6]),
  ],
  // glog: 0302 10:00:01.123456 (MMdd, no year)
  [
    /^(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/,
    (m, year) => fields(year, n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), m[6]),
  ],
];

const digitAt = (text: string, i: number): number => {
  const c = text.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
};

/** The number written by the two digits at `i`, or -1. */
function twoDigits(text: string, i: number): number {
  const a = digitAt(text, i);
  const b = digitAt(text, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/** The milliseconds a fraction's digits `text[from, end)` say (its first three; digits only). */
export function fractionMs(text: string, from: number, end: number): number {
  let ms = 0;
  for (let i = from, scale = 100; i < end && scale >= 1; i++, scale /= 10)
    ms += (text.charCodeAt(i) - 48) * scale;
  return ms;
}

function threeDigits(text: string, i: number): number {
  const a = twoDigits(text, i);
  const b = digitAt(text, i + 2);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/**
 * The key of `YYYY-MM-DD?HH:MM:SS` at the start of `t` (`?` any character, `-` and `:` checked),
 * with `ms` milliseconds: undefined when the characters are not of that shape, NO_TIME when a
 * field is out of range.
 */
export function dayClock(t: string, ms: number): TimeKey | undefined {
  if (t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58)
    return undefined;
  const century = twoDigits(t, 0);
  const y = twoDigits(t, 2);
  const mo = twoDigits(t, 5);
  const d = twoDigits(t, 8);
  const h = twoDigits(t, 11);
  const mi = twoDigits(t, 14);
  const s = twoDigits(t, 17);
  if ((century | y | mo | d | h | mi | s) < 0) return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return NO_TIME;
  return key(century * 100 + y, mo, d, h, mi, s, ms);
}

/**
 * The first layout's commonest case read without a regular expression: `2015-10-18 18:01:47`,
 * `T` or a space, an optional `.`/`,` fraction, no zone. The same answer as the layout gives;
 * undefined for anything else, which takes the general path.
 */
function zoneless(t: string): TimeKey | undefined {
  const length = t.length;
  if (length < 19) return undefined;
  const sep = t.charCodeAt(10);
  if (sep !== 32 && sep !== 84) return undefined;
  let ms = 0;
  if (length > 19) {
    const dot = t.charCodeAt(19);
    if ((dot !== 46 && dot !== 44) || length === 20) return undefined;
    for (let i = 20; i < length; i++) if (digitAt(t, i) < 0) return undefined;
    ms = fractionMs(t, 20, length);
  }
  return dayClock(t, ms);
}

/**
 * A timestamp as written, as a key (NO_TIME when it is none). `year` fills in layouts that have
 * none (syslog, glog).
 */
export function timeKey(text: string | undefined, year = new Date().getUTCFullYear()): TimeKey {
  if (!text) return NO_TIME;
  const fast = zoneless(text);
  if (fast !== undefined) return fast;
  const t = text.trim();
  for (const [pattern, build] of LAYOUTS) {
    const m = pattern.exec(t);
    if (m) return build(m, year);
  }
  // Epoch seconds or milliseconds (JSON loggers).
  if (/^\d{10}(\.\d+)?$/.test(t)) return ofDate(new Date(Number(t) * 1000));
  if (/^\d{13}$/.test(t)) return ofDate(new Date(Number(t)));
  return NO_TIME;
}

/** ISO 8601 for a timestamp as written, or null. `year` fills in layouts that have none (syslog, glog). */
export function parseTime(text: string | undefined, year = new Date().getUTCFullYear()): string | null {
  return isoOfKey(timeKey(text, year));
}
