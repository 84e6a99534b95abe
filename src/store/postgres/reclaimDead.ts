// reclaimDead: returns to pending at once the items of owners known dead (a process of this host
// that is gone), instead of waiting out their leases, and lets go of a listing one of them held.
import type pg from 'pg';

export async function reclaimDead(
  pool: pg.Pool,
  job: string,
  isDead: (owner: string) => boolean,
): Promise<number> {
  // Owners holding items, and workers still counted live (a dead one would keep the listing from
  // being taken until its lease ran out).
  const { rows } = await pool.query<{ owner: string }>(
    `SELECT DISTINCT lease_owner AS owner FROM items WHERE job = $1 AND state = 'leased'
     UNION SELECT owner FROM workers WHERE job = $1 AND left_at IS NULL`,
    [job],
  );
  const dead = rows.map((r) => r.owner).filter(isDead);
  if (dead.length === 0) return 0;
  const { rowCount } = await pool.query(
    `WITH gone AS (
       UPDATE jobs SET lister = NULL, lister_expires = NULL WHERE name = $1 AND lister = ANY($2::text[])
     ), left_job AS (
       UPDATE workers SET left_at = now() WHERE job = $1 AND owner = ANY($2::text[]) AND left_at IS NULL
     )
     UPDATE items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
      WHERE job = $1 AND state = 'leased' AND lease_owner = ANY($2::text[])`,
    [job, dead],
  );
  return rowCount ?? 0;
}
