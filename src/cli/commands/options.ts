// Option parsers shared by commands: they turn bad values into usage errors that say what is wrong.
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import picomatch from 'picomatch';
import { parsePartition } from '../../engine/partition.js';
import { UsageError } from '../../errors.js';
import { parseWindow, type TimeWindow, WindowError } from '../../sources/window.js';
import { bytes, count, parseSize } from '../format.js';

/**
 * Upper bounds of the numeric options: past them a value only costs memory or hides a typo
 * (`--threads 1000000` asked V8 for a million workers).
 */
export const LIMITS = {
  /** Parser threads: more than 4 per core only adds memory and switching. */
  threads: Math.min(256, 4 * availableParallelism()),
  /** Items in flight at once. */
  concurrency: 4096,
  /** Attempts per item. */
  attempts: 100,
  /** First retry backoff ceiling: 10 minutes. */
  retryDelayMs: 600_000,
  /** Hash partitions of one job (machines that share it). */
  partitions: 10_000,
  /** Longest line parsed: past 512 MB no string can hold one, and parsing takes several times its size. */
  lineBytes: 256_000_000,
  /** Characters in a glob: real ones are tens; a huge one only costs time to compile and match. */
  globChars: 4096,
} as const;

/** A whole number from `min` to `max`; the message says the range and, when given, why. */
export function intIn(min: number, max: number, why = '') {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `expected a whole number from ${count(min)} to ${count(max)}${why ? ` (${why})` : ''}`,
      );
    }
    return n;
  };
}

/** `--partition i/n`: checked here, with n bounded, and kept as text for the command. */
export function partitionText(value: string): string {
  try {
    const { count: n } = parsePartition(value);
    if (n > LIMITS.partitions) {
      throw new InvalidArgumentError(`at most ${count(LIMITS.partitions)} partitions (n), not ${count(n)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return value;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return n;
}

export function percent(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n <= 0 || n > 100)
    throw new InvalidArgumentError('expected a percentage between 1 and 100');
  return n;
}

export function size(value: string): number {
  const n = parseSize(value);
  if (n === null || n <= 0) throw new InvalidArgumentError('expected a size such as 300MB, 2GB or 50000000');
  return n;
}

/** A glob (`--include`): not empty, not huge, and one picomatch can compile. */
export function glob(value: string): string {
  if (value.trim() === '')
    throw new InvalidArgumentError('expected a glob such as **/PT1H.json, not an empty one');
  if (value.length > LIMITS.globChars) {
    // Not InvalidArgumentError: commander would print the whole value back.
    throw new UsageError(
      `--include: expected a glob of at most ${count(LIMITS.globChars)} characters, not ${count(value.length)}`,
    );
  }
  try {
    picomatch(value, { dot: true });
  } catch (error) {
    throw new InvalidArgumentError(`not a glob picomatch can read: ${(error as Error).message}`);
  }
  return value;
}

/** A size (300MB, 2GB, 50000000) from `min` to `max` bytes. */
export function sizeIn(min: number, max: number) {
  return (value: string): number => {
    const n = size(value);
    if (n < min || n > max) {
      throw new InvalidArgumentError(`expected a size from ${bytes(min)} to ${bytes(max)}, not ${bytes(n)}`);
    }
    return n;
  };
}

export function formatOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of: ${allowed.join(', ')}`);
    }
    return value as T;
  };
}

/** --lease-ttl: seconds, from 5 (a heartbeat every third of it must keep up) to a day. */
export function leaseTtl(value: string): number {
  const n = Number(value.replace(/s$/, ''));
  if (!Number.isFinite(n) || n < 5 || n > 86_400)
    throw new InvalidArgumentError('expected seconds between 5 and 86400 (e.g. 60)');
  return n;
}

/** --from/--to as a time window; a malformed date is a usage error that says which and why. */
export function windowOption(from: string | undefined, to: string | undefined): TimeWindow | undefined {
  try {
    return parseWindow(from, to);
  } catch (error) {
    if (error instanceof WindowError) throw new UsageError(error.message);
    throw error;
  }
}
