// Option parsers shared by commands: they turn bad values into usage errors that say what is wrong.
import { InvalidArgumentError } from 'commander';
import { parseSize } from '../format.js';

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
