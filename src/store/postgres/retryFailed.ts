// retryFailed: the job's failed items become pending again, their attempts reset.
import type pg from 'pg';

export async function retryFailed(pool: pg.Pool, job: string): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE items SET state = 'pending', attempts = 0, not_before = '-infinity' WHERE job = $1 AND state = 'failed'`,
    [job],
  );
  return rowCount ?? 0;
}
