// Time windows from --from/--to, and pruning by the `y=/m=/d=/h=` segments of Azure log paths.

/** A half-open interval of epoch milliseconds: from <= t < to. */
export interface TimeWindow {
  from: number;
  to: number;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?Z?$/;

export class WindowError extends Error {}

/**
 * Parses a --from/--to value. A bound is inclusive at the precision given: `--to 2025-06-07`
 * includes all of that day, `--to 2025-06-07T12` all of hour 12. Times are UTC.
 */
export function parseBound(text: string, side: 'from' | 'to'): number {
  const m = DATE_RE.exec(text.trim());
  if (!m) {
    throw new WindowError(
      `--${side} ${JSON.stringify(text)} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH[:MM[:SS]] (UTC)`,
    );
  }
  const [y, mo, d, h, mi, s] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  const start = Date.UTC(y as number, (mo as number) - 1, d as number, h ?? 0, mi ?? 0, s ?? 0);
  const check = new Date(start);
  if (check.getUTCMonth() !== (mo as number) - 1 || check.getUTCDate() !== d || (h ?? 0) > 23) {
    throw new WindowError(`--${side} ${JSON.stringify(text)} is not a real date`);
  }
  if (side === 'from') return start;
  const step = s !== undefined ? 1000 : mi !== undefined ? 60_000 : h !== undefined ? 3_600_000 : 86_400_000;
  return start + step;
}

export function parseWindow(from?: string, to?: string): TimeWindow | undefined {
  if (from === undefined && to === undefined) return undefined;
  const window = {
    from: from === undefined ? Number.NEGATIVE_INFINITY : parseBound(from, 'from'),
    to: to === undefined ? Number.POSITIVE_INFINITY : parseBound(to, 'to'),
  };
  if (window.from >= window.to) {
    throw new WindowError(`--from ${from} is after --to ${to}: the window is empty; swap them`);
  }
  return window;
}

/** The date parts a path has fixed so far. */
export interface PathHour {
  y?: number;
  m?: number;
  d?: number;
  h?: number;
}

const SEGMENT_RE = /^(y|m|d|h)=(\d{1,4})$/;

/**
 * Reads one path segment into `parts` (a copy is returned). Azure paths end `.../h=14/m=00/`:
 * the `m=` after `h=` is minutes and is ignored.
 */
export function readSegment(parts: PathHour, segment: string): PathHour {
  const m = SEGMENT_RE.exec(segment);
  if (!m) return parts;
  const key = m[1] as 'y' | 'm' | 'd' | 'h';
  const value = Number(m[2]);
  if (key === 'm' && parts.m !== undefined) return parts; // minutes
  return { ...parts, [key]: value };
}

/** The interval a partially known path hour covers, or undefined when the year is not known yet. */
export function pathInterval(p: PathHour): TimeWindow | undefined {
  if (p.y === undefined) return undefined;
  if (p.m === undefined) return { from: Date.UTC(p.y, 0, 1), to: Date.UTC(p.y + 1, 0, 1) };
  if (p.d === undefined) return { from: Date.UTC(p.y, p.m - 1, 1), to: Date.UTC(p.y, p.m, 1) };
  const day = Date.UTC(p.y, p.m - 1, p.d);
  if (p.h === undefined) return { from: day, to: day + 86_400_000 };
  const hour = day + p.h * 3_600_000;
  return { from: hour, to: hour + 3_600_000 };
}

/** True when a path with these parts may hold items inside the window (unknown parts never prune). */
export function mayOverlap(p: PathHour, window: TimeWindow | undefined): boolean {
  if (!window) return true;
  const interval = pathInterval(p);
  if (!interval) return true;
  return interval.from < window.to && interval.to > window.from;
}
