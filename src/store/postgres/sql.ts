// What the verbs share: a transaction on one pooled connection, and times as epoch milliseconds.
import type pg from 'pg';

/** A timestamptz column as epoch ms (a JS number), NULL kept. */
export function ms(column: string): string {
  return `round(extract(epoch FROM ${column}) * 1000)::float8`;
}

/** Runs `body` in one transaction (`begin` may set its isolation) on one connection; a connection that failed is discarded, not reused. */
export async function transaction<T>(
  pool: pg.Pool,
  body: (client: pg.PoolClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await body(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    // A rollback that fails means the connection is gone: release it as broken.
    const broken = await client.query('ROLLBACK').then(
      () => false,
      () => true,
    );
    client.release(broken ? (error as Error) : undefined);
    throw error;
  }
}

/** How a read of several statements begins: one consistent snapshot, nothing written. */
export const SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';
