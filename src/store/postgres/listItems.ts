// listItems: items with everything kept of them, in id order after `after`, a page at a time.
import type pg from 'pg';
import type { ItemRecord, ItemState } from '../types.js';
import { ms } from './sql.js';

export async function listItems(
  pool: pg.Pool,
  job: string,
  options: { state?: ItemState; after?: string; limit: number },
): Promise<ItemRecord[]> {
  const { rows } = await pool.query<ItemRecord>(
    `SELECT id, state, size, version, payload, checkpoint, covered, attempts, records, bytes, metrics, result,
            last_error AS error,
            COALESCE(lease_owner, done_by) AS owner,
            ${ms('started_at')} AS "startedAt", ${ms('finished_at')} AS "finishedAt"
       FROM items
      WHERE job = $1 AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR id > $3)
      ORDER BY id LIMIT $4`,
    [job, options.state ?? null, options.after ?? null, Math.max(0, options.limit)],
  );
  return rows;
}
