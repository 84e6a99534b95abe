// heartbeat: in one statement, registers or refreshes `owner` as a live worker, renews the leases
// it holds by their fencing tokens (and its listing hold), and names those it no longer holds.
import type pg from 'pg';

/** The host part of an owner (host/pid/nonce), and its pid when it has one. */
export function ownerHost(owner: string): { host: string; pid: number | null } {
  const [host, pid] = owner.split('/');
  const n = Number(pid);
  return { host: host ?? owner, pid: Number.isInteger(n) && n > 0 && n < 2 ** 31 ? n : null };
}

export async function heartbeat(
  pool: pg.Pool,
  job: string,
  owner: string,
  items: { id: string; fence: number }[],
  ttlMs: number,
): Promise<{ lost: string[] }> {
  const { host, pid } = ownerHost(owner);
  // Leases are locked in id order, as commits lock them, so the two never deadlock.
  const { rows } = await pool.query<{ id: string }>(
    `WITH seen AS (
       INSERT INTO workers (job, owner, host, pid, ttl_ms) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (job, owner) DO UPDATE SET last_seen = now(), ttl_ms = excluded.ttl_ms, left_at = NULL
     ),
     held AS (SELECT * FROM unnest($6::text[], $7::bigint[]) AS h(id, fence)),
     mine AS MATERIALIZED (
       SELECT x.id FROM items x JOIN held h ON h.id = x.id AND h.fence = x.fence
        WHERE x.job = $1 AND x.id = ANY($6) AND x.state = 'leased' AND x.lease_owner = $2
        ORDER BY x.id FOR UPDATE OF x
     ),
     renewed AS (
       UPDATE items i SET lease_expires = now() + $5 * interval '1 millisecond'
         FROM mine m WHERE i.job = $1 AND i.id = ANY($6) AND i.id = m.id
       RETURNING i.id
     ),
     listing AS (
       UPDATE jobs SET lister_expires = now() + $5 * interval '1 millisecond' WHERE name = $1 AND lister = $2
     )
     SELECT h.id FROM held h WHERE NOT EXISTS (SELECT 1 FROM renewed r WHERE r.id = h.id)`,
    [job, owner, host, pid, ttlMs, items.map((i) => i.id), items.map((i) => i.fence)],
  );
  return { lost: rows.map((r) => r.id) };
}
