// reclaimDead: returns to pending at once the items of owners known dead (a process of this host
// that is gone), instead of waiting out their leases, and lets go of a listing one of them held.
import type pg from 'pg';

export async function reclaimDead(
  pool: pg.Pool,
  job: string,
  isDead: (owner: string) => boolean,
): Promise<number> {
  const { rows } = await pool.query<{ owner: string }>(
    `SELECT DISTINCT lease_owner AS owner FROM items WHERE job = $1 AND state = 'leased'`,
    [job],
  );
  const dead = rows.map((r) => r.owner).filter(isDead);
  if (dead.length === 0) return 0;
  const { rowCount } = await pool.query(
    `WITH gone AS (
       UPDATE jobs SET lister = NULL, lister_expires = NULL WHERE name = $1 AND lister = ANY($2::text[])
     )
     UPDATE items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
      WHERE job = $1 AND state = 'leased' AND lease_owner = ANY($2::text[])`,
    [job, dead],
  );
  return rowCount ?? 0;
}
