// failItems: records failed attempts in one statement. Each item waits out its delay as pending,
// or ends failed when its attempts reach `maxAttempts` or the failure is permanent. Items no
// longer leased to `owner` by that fence are left alone.
import type pg from 'pg';
import type { ItemFailure } from '../types.js';

export async function failItems(
  pool: pg.Pool,
  job: string,
  owner: string,
  failures: ItemFailure[],
  maxAttempts: number,
): Promise<Map<string, 'retry' | 'failed'>> {
  if (failures.length === 0) return new Map();
  const { rows } = await pool.query<{ id: string; state: string }>(
    `WITH mine AS MATERIALIZED (
       SELECT x.id FROM items x
        WHERE x.job = $1 AND x.id = ANY($4) AND x.state = 'leased' AND x.lease_owner = $2
        ORDER BY x.id FOR UPDATE
     )
     UPDATE items i SET attempts = i.attempts + 1,
            state = CASE WHEN u.permanent OR i.attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END,
            last_error = u.error, not_before = now() + u.delay_ms * interval '1 millisecond',
            lease_owner = NULL, lease_expires = NULL, finished_at = now(),
            result = COALESCE(u.result::jsonb, i.result), metrics = COALESCE(u.metrics::jsonb, i.metrics)
       FROM unnest($4::text[], $5::bigint[], $6::text[], $7::float8[], $8::bool[], $9::text[], $10::text[])
            AS u(id, fence, error, delay_ms, permanent, result, metrics)
      WHERE i.job = $1 AND i.id = ANY($4) AND i.id = u.id AND i.fence = u.fence AND i.state = 'leased' AND i.lease_owner = $2
        AND i.id IN (SELECT id FROM mine)
      RETURNING i.id, i.state`,
    [
      job,
      owner,
      Math.max(1, maxAttempts),
      failures.map((f) => f.id),
      failures.map((f) => f.fence),
      failures.map((f) => f.error),
      failures.map((f) => Math.max(0, f.delayMs)),
      failures.map((f) => f.permanent === true),
      failures.map((f) => (f.result === undefined ? null : JSON.stringify(f.result))),
      failures.map((f) => (f.metrics ? JSON.stringify(f.metrics) : null)),
    ],
  );
  return new Map(rows.map((r) => [r.id, r.state === 'failed' ? 'failed' : 'retry']));
}
