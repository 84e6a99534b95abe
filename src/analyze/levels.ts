// Log levels: the seven names `sluice analyze` reports, and the mapping from every spelling seen in
// the wild (log4j, Python, syslog, Apache, glog, pino/bunyan numbers) onto them.

export const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type Level = (typeof LEVELS)[number];

const NAMES: Record<string, Level> = {
  TRACE: 'TRACE',
  FINEST: 'TRACE',
  FINER: 'TRACE',
  VERBOSE: 'TRACE',
  DEBUG: 'DEBUG',
  DBG: 'DEBUG',
  FINE: 'DEBUG',
  INFO: 'INFO',
  INFORMATION: 'INFO',
  INFORMATIONAL: 'INFO',
  CONFIG: 'INFO',
  NOTICE: 'NOTICE',
  WARN: 'WARNING',
  WARNING: 'WARNING',
  ERROR: 'ERROR',
  ERR: 'ERROR',
  FATAL: 'CRITICAL',
  SEVERE: 'CRITICAL',
  CRIT: 'CRITICAL',
  CRITICAL: 'CRITICAL',
  EMERG: 'CRITICAL',
  EMERGENCY: 'CRITICAL',
  ALERT: 'CRITICAL',
  PANIC: 'CRITICAL',
  // One-letter Android/glog levels.
  V: 'TRACE',
  D: 'DEBUG',
  I: 'INFO',
  W: 'WARNING',
  E: 'ERROR',
  F: 'CRITICAL',
};

/** Level words already normalised, as written: a log spells its levels a handful of ways. */
const SEEN = new Map<string, Level | null>();
const MAX_SEEN = 1000;

/** The normalised level for a level word as written (any case), or null when it is not one. */
export function normaliseLevel(word: string | number | undefined | null): Level | null {
  if (word === undefined || word === null) return null;
  if (typeof word === 'number') return levelFromNumber(word);
  const seen = SEEN.get(word);
  if (seen !== undefined) return seen;
  const level = levelFromWord(word);
  if (SEEN.size < MAX_SEEN && word.length <= 32) SEEN.set(word, level);
  return level;
}

function levelFromWord(word: string): Level | null {
  const text = word.trim();
  if (/^\d+$/.test(text)) return levelFromNumber(Number(text));
  // Apache's trace1..trace8.
  const upper = text.toUpperCase().replace(/^TRACE\d$/, 'TRACE');
  return NAMES[upper] ?? null;
}

/** pino/bunyan numeric levels (10 trace .. 60 fatal); syslog severities 0..7. */
function levelFromNumber(n: number): Level | null {
  if (n >= 10) {
    if (n >= 60) return 'CRITICAL';
    if (n >= 50) return 'ERROR';
    if (n >= 40) return 'WARNING';
    if (n >= 30) return 'INFO';
    if (n >= 20) return 'DEBUG';
    return 'TRACE';
  }
  return syslogSeverity(n);
}

/** Syslog severity (the low 3 bits of PRI): 0 emerg .. 7 debug. */
export function syslogSeverity(n: number): Level | null {
  const bySeverity: Level[] = [
    'CRITICAL',
    'CRITICAL',
    'CRITICAL',
    'ERROR',
    'WARNING',
    'NOTICE',
    'INFO',
    'DEBUG',
  ];
  return bySeverity[n] ?? null;
}

export function emptyLevelCounts(): Record<Level, number> {
  return { TRACE: 0, DEBUG: 0, INFO: 0, NOTICE: 0, WARNING: 0, ERROR: 0, CRITICAL: 0 };
}

export function isErrorLevel(level: Level | null): boolean {
  return level === 'ERROR' || level === 'CRITICAL';
}
