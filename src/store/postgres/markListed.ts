// markListed: a listing pass completed: its cursor is cleared and its hold released.
import type pg from 'pg';

export async function markListed(pool: pg.Pool, job: string, owner: string): Promise<void> {
  await pool.query(
    `UPDATE jobs SET listed_at = now(), list_cursor = NULL,
            lister = CASE WHEN lister = $2 THEN NULL ELSE lister END,
            lister_expires = CASE WHEN lister = $2 THEN NULL ELSE lister_expires END
      WHERE name = $1`,
    [job, owner],
  );
}
