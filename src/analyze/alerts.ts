// Alert rules for `analyze --follow`: `ERROR>5/min` (events at a level or above, more than N in a
// sliding window) and `category=gpu` (any error of a category). Pure: the clock is a parameter.
// Each rule fires at most once per `every` milliseconds, so a storm gives one alert, not thousands.
import { UsageError } from '../errors.js';
import { LEVELS, type Level, normaliseLevel } from './levels.js';
import { CATEGORIES, type Category } from './rules.js';

export type AlertRule =
  | { text: string; kind: 'rate'; level: Level; threshold: number; windowMs: number }
  | { text: string; kind: 'category'; category: Category };

export interface AlertEvent {
  file: string;
  line: number;
  level: Level | null;
  category: Category | null;
  message: string;
}

export interface Alert {
  rule: string;
  at: number;
  text: string;
}

const UNITS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
};

export function parseAlertRule(text: string): AlertRule {
  const rate = /^\s*([A-Za-z]+)\s*>\s*(\d+)\s*\/\s*(\d*)\s*(s|sec|m|min|h|hour)\s*$/.exec(text);
  if (rate) {
    const level = normaliseLevel(rate[1]);
    if (!level) throw new UsageError(`--alert ${text}: "${rate[1]}" is not a level (${LEVELS.join(', ')})`);
    const windowMs = Number(rate[3] || 1) * (UNITS[rate[4] ?? 'min'] ?? 60_000);
    return { text, kind: 'rate', level, threshold: Number(rate[2]), windowMs };
  }
  const category = /^\s*category\s*=\s*(\w+)\s*$/.exec(text);
  if (category) {
    if (!(CATEGORIES as readonly string[]).includes(category[1] ?? '')) {
      throw new UsageError(`--alert ${text}: the category is one of ${CATEGORIES.join(', ')}`);
    }
    return { text, kind: 'category', category: category[1] as Category };
  }
  throw new UsageError(
    `--alert ${text}: expected a rule like "ERROR>5/min", "WARNING>100/5min" or "category=gpu"`,
  );
}

export class AlertEngine {
  /** Arrival times of matching events, per rate rule. */
  private readonly times: number[][];
  private readonly lastFired: number[];

  constructor(
    readonly rules: AlertRule[],
    readonly every: number,
    private readonly now: () => number = Date.now,
  ) {
    this.times = rules.map(() => []);
    this.lastFired = rules.map(() => Number.NEGATIVE_INFINITY);
  }

  /** The alerts this event raises (already rate-limited). */
  event(e: AlertEvent): Alert[] {
    const at = this.now();
    const alerts: Alert[] = [];
    this.rules.forEach((rule, i) => {
      let text: string | null = null;
      if (rule.kind === 'category') {
        if (e.category === rule.category)
          text = `${rule.category} error at ${e.file}:${e.line}: ${e.message}`;
      } else if (e.level && LEVELS.indexOf(e.level) >= LEVELS.indexOf(rule.level)) {
        const times = this.times[i] as number[];
        times.push(at);
        while (times.length > 0 && (times[0] as number) <= at - rule.windowMs) times.shift();
        if (times.length > rule.threshold) {
          text = `${times.length} events at ${rule.level} or above in the last ${rule.windowMs / 1000} s (latest ${e.file}:${e.line}: ${e.message})`;
        }
      }
      if (text !== null && at - (this.lastFired[i] as number) >= this.every) {
        this.lastFired[i] = at;
        alerts.push({ rule: rule.text, at, text });
      }
    });
    return alerts;
  }
}

/** `cmd "arg with spaces" 'x'` split into a program and its arguments (no shell involved). */
export function splitCommand(command: string): string[] {
  const args: string[] = [];
  for (const m of command.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) {
    args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3] ?? ''));
  }
  return args;
}
