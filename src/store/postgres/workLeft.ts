// workLeft: what is left to do, on the database's clock: ready, waiting out a backoff, leased,
// and how long until the next waiting item is due or the next lease ends.
import type pg from 'pg';
import type { WorkLeft } from '../types.js';

export async function workLeft(pool: pg.Pool, job: string): Promise<WorkLeft> {
  const { rows } = await pool.query<{
    ready: number;
    waiting: number;
    leased: number;
    next_in_ms: number | null;
  }>(
    `SELECT count(*) FILTER (WHERE state = 'pending' AND not_before <= now()) AS ready,
            count(*) FILTER (WHERE state = 'pending' AND not_before > now()) AS waiting,
            count(*) FILTER (WHERE state = 'leased') AS leased,
            GREATEST(0, ceil(extract(epoch FROM min(CASE WHEN state = 'pending' AND not_before > now() THEN not_before
                                                         WHEN state = 'leased' THEN lease_expires END) - now()) * 1000))::float8
              AS next_in_ms
       FROM items WHERE job = $1 AND state IN ('pending', 'leased')`,
    [job],
  );
  const r = rows[0] ?? { ready: 0, waiting: 0, leased: 0, next_in_ms: null };
  return { ready: r.ready, waiting: r.waiting, leased: r.leased, nextInMs: r.next_in_ms };
}
