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

function iso(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  frac = '',
  zone = 'Z',
): string | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const ms = frac ? `.${frac.padEnd(3, '0').slice(0, 3)}` : '.000';
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const local = `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}${ms}`;
  if (zone === 'Z') return `${local}Z`;
  const date = new Date(`${local}${zone}`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Group `i` of a match as a number. */
const n = (m: RegExpExecArray, i: number) => Number(m[i]);

const LAYOUTS: [RegExp, (m: RegExpExecArray, year: number) => string | null][] = [
  // 2015-10-18 18:01:47,978 / 2024-01-01T12:00:00.123456+02:00 / 2024/01/01 12:00:00
  [
    /^(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$/,
    (m, _) =>
      iso(
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
    (m) => iso(2000 + n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), n(m, 6)),
  ],
  // 17/06/09 20:10:40 (Spark: yy/MM/dd)
  [
    /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})$/,
    (m) => iso(2000 + n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), n(m, 6)),
  ],
  // 10/Oct/2000:13:55:36 -0700 (access logs)
  [
    /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?: ([+-]\d{2})(\d{2}))?$/,
    (m) =>
      iso(
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
    (m) => iso(n(m, 7), MONTHS[m[1] ?? ''] ?? 0, n(m, 2), n(m, 3), n(m, 4), n(m, 5), m[6]),
  ],
  // Jun 14 15:16:01 (syslog: no year, the caller's year is used)
  [
    /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/,
    (m, year) => iso(year, MONTHS[m[1] ?? ''] ?? 0, n(m, 2), n(m, 3), n(m, 4), n(m, 5), m[6]),
  ],
  // glog: 0302 10:00:01.123456 (MMdd, no year)
  [
    /^(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/,
    (m, year) => iso(year, n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), m[6]),
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

/**
 * The first layout's commonest case read without a regular expression: `2015-10-18 18:01:47`,
 * `T` or a space, an optional `.`/`,` fraction, no zone. The same answer as the layout gives;
 * undefined for anything else, which takes the general path.
 */
function zonelessIso(t: string): string | null | undefined {
  const length = t.length;
  if (length < 19 || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45) return undefined;
  const sep = t.charCodeAt(10);
  if ((sep !== 32 && sep !== 84) || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return undefined;
  const century = twoDigits(t, 0);
  const y = twoDigits(t, 2);
  const mo = twoDigits(t, 5);
  const d = twoDigits(t, 8);
  const h = twoDigits(t, 11);
  const mi = twoDigits(t, 14);
  const s = twoDigits(t, 17);
  if ((century | y | mo | d | h | mi | s) < 0) return undefined;
  let ms = '.000';
  if (length > 19) {
    const dot = t.charCodeAt(19);
    if ((dot !== 46 && dot !== 44) || length === 20) return undefined;
    for (let i = 20; i < length; i++) if (digitAt(t, i) < 0) return undefined;
    ms = `.${t.slice(20, 23).padEnd(3, '0')}`;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  return `${t.slice(0, 10)}T${t.slice(11, 19)}${ms}Z`;
}

/** ISO 8601 for a timestamp as written, or null. `year` fills in layouts that have none (syslog, glog). */
export function parseTime(text: string | undefined, year = new Date().getUTCFullYear()): string | null {
  if (!text) return null;
  const fast = zonelessIso(text);
  if (fast !== undefined) return fast;
  const t = text.trim();
  for (const [pattern, build] of LAYOUTS) {
    const m = pattern.exec(t);
    if (m) return build(m, year);
  }
  // Epoch seconds or milliseconds (JSON loggers).
  if (/^\d{10}(\.\d+)?$/.test(t)) return new Date(Number(t) * 1000).toISOString();
  if (/^\d{13}$/.test(t)) return new Date(Number(t)).toISOString();
  return null;
}

/** Epoch seconds/milliseconds given as a JSON number. */
export function timeFromNumber(n: number): string | null {
  if (n > 1e11 && n < 1e14) return new Date(n).toISOString();
  if (n > 1e8 && n < 1e11) return new Date(n * 1000).toISOString();
  return null;
}
