// addItems: records a batch of listed items and the listing's cursor in one statement. New items
// become pending; a done item listed with another size or version (grown, or rewritten) becomes
// pending again from its checkpoint, where the task reads on or finds the old bytes changed; an
// item not done takes the listed size and version (as the SQLite store does).
import type pg from 'pg';
import type { AddItemsResult, NewItem } from '../types.js';

export async function addItems(
  pool: pg.Pool,
  job: string,
  items: NewItem[],
  cursor?: string,
): Promise<AddItemsResult> {
  // One row per id: an upsert may not touch a row twice (the last listing of an id wins).
  const unique = [...new Map(items.map((i) => [i.id, i])).values()];
  const { rows } = await pool.query<{ added: number; changed: number; bytes_added: number }>(
    `WITH listed AS (
       SELECT * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS u(id, size, version, payload)
     ),
     known AS (
       SELECT i.id, i.size, i.state FROM items i WHERE i.job = $1 AND i.id = ANY($2)
     ),
     upserted AS (
       INSERT INTO items AS i (job, id, size, version, payload)
       SELECT $1, id, size, version, payload::jsonb FROM listed
       ON CONFLICT (job, id) DO UPDATE SET
         state = CASE WHEN i.state = 'done' THEN 'pending' ELSE i.state END,
         size = excluded.size, version = excluded.version, payload = COALESCE(excluded.payload, i.payload),
         attempts = CASE WHEN i.state = 'done' THEN 0 ELSE i.attempts END,
         not_before = CASE WHEN i.state = 'done' THEN '-infinity' ELSE i.not_before END,
         last_error = CASE WHEN i.state = 'done' THEN NULL ELSE i.last_error END
       WHERE excluded.size <> i.size OR excluded.version IS DISTINCT FROM i.version
       RETURNING i.id, i.size, (xmax = 0) AS inserted
     ),
     moved AS (
       UPDATE jobs SET list_cursor = $6 WHERE name = $1 AND $6::text IS NOT NULL
     )
     SELECT count(*) FILTER (WHERE u.inserted) AS added, count(*) FILTER (WHERE k.state = 'done') AS changed,
            COALESCE(sum(u.size - COALESCE(k.size, 0)), 0)::bigint AS bytes_added
       FROM upserted u LEFT JOIN known k ON k.id = u.id`,
    [
      job,
      unique.map((i) => i.id),
      unique.map((i) => i.size),
      unique.map((i) => i.version ?? null),
      unique.map((i) => (i.payload === undefined ? null : JSON.stringify(i.payload))),
      cursor ?? null,
    ],
  );
  const r = rows[0] ?? { added: 0, changed: 0, bytes_added: 0 };
  return { added: r.added, changed: r.changed, bytesAdded: r.bytes_added };
}

/**
 * Refreshes the planner's statistics on items. A job's items arrive faster than autovacuum looks
 * (a minute), and until it does the planner takes a job of 100,000 items for one of a few dozen.
 */
export async function analyzeItems(pool: pg.Pool): Promise<void> {
  await pool.query('ANALYZE items');
}
