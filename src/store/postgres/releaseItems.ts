// releaseItems: gives leased items back untouched, no attempt counted (a clean stop, or a child
// stopped to spare memory). Items no longer leased to `owner` by that fence are left alone.
import type pg from 'pg';

export async function releaseItems(
  pool: pg.Pool,
  job: string,
  owner: string,
  items: { id: string; fence: number }[],
): Promise<void> {
  if (items.length === 0) return;
  await pool.query(
    `WITH mine AS MATERIALIZED (
       SELECT x.id FROM items x JOIN unnest($3::text[], $4::bigint[]) AS u(id, fence) ON u.id = x.id AND u.fence = x.fence
        WHERE x.job = $1 AND x.id = ANY($3) AND x.state = 'leased' AND x.lease_owner = $2
        ORDER BY x.id FOR UPDATE OF x
     )
     UPDATE items i SET state = 'pending', lease_owner = NULL, lease_expires = NULL
       FROM mine m WHERE i.job = $1 AND i.id = ANY($3) AND i.id = m.id`,
    [job, owner, items.map((i) => i.id), items.map((i) => i.fence)],
  );
}
