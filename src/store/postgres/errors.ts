// Store errors from PostgreSQL's: a dropped connection, a restarting server, a serialization or
// deadlock abort or too many clients may pass, so they are retryable; a full disk, a read-only
// server or anything else is not.
import { UsageError } from '../../errors.js';
import { StoreError } from '../types.js';
import { redact } from './connect.js';

/** SQLSTATEs worth trying again: class 08 (connection) plus these. */
// 55P03: a lock not had within lock_timeout; 25P03: the session was ended for idling in a transaction.
const RETRYABLE_CODES = new Set(['57P01', '57P02', '57P03', '40001', '40P01', '53300', '55P03', '25P03']);

/** Node's socket errors: the server went away or cannot be reached for now. */
const RETRYABLE_SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

export function isRetryable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || RETRYABLE_CODES.has(code) || RETRYABLE_SOCKET.has(code)) return true;
  if (code !== '') return false;
  // pg's own errors carry no code: a connection that ended under a query, a pool that could not connect.
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i.test(
    message,
  );
}

/** Any failure of a verb as a StoreError saying what failed (usage errors pass through). */
export function storeError(what: string, error: unknown, secrets: string[]): Error {
  if (error instanceof UsageError || error instanceof StoreError) return error;
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? ` [${e.code}]` : '';
  const message = redact(typeof e?.message === 'string' ? e.message : String(error), secrets);
  return new StoreError(`PostgreSQL failed while ${what}: ${message}${code}`, isRetryable(error), {
    cause: error,
  });
}
