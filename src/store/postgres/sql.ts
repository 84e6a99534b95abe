// What the verbs share: a transaction on one pooled connection, and times as epoch milliseconds.
import type pg from 'pg';
import { isRetryable } from './errors.js';

/** A timestamptz column as epoch ms (a JS number), NULL kept. */
export function ms(column: string): string {
  return `round(extract(epoch FROM ${column}) * 1000)::float8`;
}

/**
 * Runs `body` on one pooled connection. A connection that drops while checked out is an error of
 * `body`'s, never an unhandled 'error' event (which would end the process), and is discarded.
 */
export async function withClient<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let dropped: Error | undefined;
  const onError = (error: Error) => {
    dropped = error;
  };
  client.on('error', onError);
  let failed: Error | undefined;
  try {
    return await body(client);
  } catch (error) {
    failed = error as Error;
    throw error;
  } finally {
    client.removeListener('error', onError);
    // A connection that failed under a call is not handed out again.
    client.release(dropped ?? (failed && isRetryable(failed) ? failed : undefined));
  }
}

/** Runs `body` in one transaction (`begin` may set its isolation) on one connection. */
export async function transaction<T>(
  pool: pg.Pool,
  body: (client: pg.PoolClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query(begin);
    try {
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  });
}

/** How a read of several statements begins: one consistent snapshot, nothing written. */
export const SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';
