// leaseItems: claims up to `limit` items, in id order: pending ones whose retry time has come and
// leased ones whose lease expired, on the database's clock. Each claim bumps the fencing token;
// SKIP LOCKED lets many workers claim at once without waiting on each other.
import type pg from 'pg';
import type { LeasedItem } from '../types.js';

export async function leaseItems(
  pool: pg.Pool,
  job: string,
  owner: string,
  limit: number,
  ttlMs: number,
): Promise<LeasedItem[]> {
  const { rows } = await pool.query<LeasedItem>(
    `WITH claimed AS MATERIALIZED (
       SELECT c.id FROM items c
        WHERE c.job = $1 AND c.state IN ('pending', 'leased')
          AND ((c.state = 'pending' AND c.not_before <= now()) OR (c.state = 'leased' AND c.lease_expires < now()))
        ORDER BY c.id LIMIT $3 FOR UPDATE SKIP LOCKED
     )
     UPDATE items i SET state = 'leased', lease_owner = $2, lease_expires = now() + $4 * interval '1 millisecond',
            fence = i.fence + 1
       FROM claimed c WHERE i.job = $1 AND i.id = c.id
      RETURNING i.id, i.size, i.payload, i.checkpoint, i.fence, i.attempts`,
    [job, owner, limit, ttlMs],
  );
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return rows;
}
