// leaveJob: the worker leaves the job (its row stays for status, no longer live) and lets go of
// the listing if it held it.
import type pg from 'pg';

export async function leaveJob(pool: pg.Pool, job: string, owner: string): Promise<void> {
  await pool.query(
    `WITH listing AS (
       UPDATE jobs SET lister = NULL, lister_expires = NULL WHERE name = $1 AND lister = $2
     )
     UPDATE workers SET left_at = now(), last_seen = now() WHERE job = $1 AND owner = $2`,
    [job, owner],
  );
}
