// commitResults: ONE transaction marks the units' items done and adds their summed deltas to the
// job's aggregates. A unit with any item no longer leased to `owner` by that fence is rejected
// whole: none of its items, nothing of its delta.
import type pg from 'pg';
import { Delta } from '../../aggregate/delta.js';
import type { CommitUnit } from '../types.js';
import { transaction } from './sql.js';

const byKey = <T>(a: [string, T], b: [string, T]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export async function commitResults(
  pool: pg.Pool,
  job: string,
  owner: string,
  units: CommitUnit[],
): Promise<{ committed: number; rejected: string[] }> {
  const outcomes = units.flatMap((u) => u.items);
  if (outcomes.length === 0) return { committed: 0, rejected: [] };
  return transaction(pool, async (client) => {
    // Lock the items still ours, in id order (as heartbeats do): nobody can take them until we
    // commit. One key lookup per item (LATERAL), whatever the planner believes of the table's size.
    const sorted = [...outcomes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const { rows } = await client.query<{ id: string; tid: string }>(
      `SELECT u.id, x.ctid::text AS tid FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS u(id, fence, n)
        CROSS JOIN LATERAL (
          SELECT ctid FROM items
           WHERE job = $1 AND id = u.id AND fence = u.fence AND state = 'leased' AND lease_owner = $4
             FOR UPDATE) x
        ORDER BY u.n`,
      [job, sorted.map((o) => o.id), sorted.map((o) => o.fence), owner],
    );
    const ours = new Map(rows.map((r) => [r.id, r.tid]));
    const accepted = units.filter((u) => u.items.every((o) => ours.has(o.id)));
    const rejected = units.filter((u) => !accepted.includes(u)).flatMap((u) => u.items.map((o) => o.id));
    const done = accepted.flatMap((u) => u.items);
    if (done.length === 0) return { committed: 0, rejected };

    await client.query(
      `UPDATE items i SET state = 'done', checkpoint = u.checkpoint::jsonb, covered = u.covered,
              records = i.records + u.records, bytes = i.bytes + u.bytes,
              metrics = u.metrics::jsonb, result = u.result::jsonb, done_by = $1,
              started_at = to_timestamp(u.started_at / 1000.0), finished_at = to_timestamp(u.finished_at / 1000.0),
              lease_owner = NULL, lease_expires = NULL, last_error = NULL
         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[],
                     $9::float8[], $10::float8[])
              AS u(id, checkpoint, covered, records, bytes, metrics, result, started_at, finished_at)
        WHERE i.ctid = ANY($11::tid[]) AND i.id = u.id`,
      [
        owner,
        done.map((o) => o.id),
        done.map((o) => JSON.stringify(o.checkpoint ?? null)),
        done.map((o) => o.covered),
        done.map((o) => o.records),
        done.map((o) => o.bytes),
        done.map((o) => (o.metrics ? JSON.stringify(o.metrics) : null)),
        done.map((o) => (o.result === undefined ? null : JSON.stringify(o.result))),
        done.map((o) => o.startedAt),
        done.map((o) => o.finishedAt),
        // Rows locked above by this transaction: they are where they were, found without a search.
        done.map((o) => ours.get(o.id)),
      ],
    );

    const total = new Delta();
    for (const unit of accepted) if (unit.delta) total.merge(unit.delta);
    await addDelta(client, job, total);

    await client.query(
      `UPDATE workers SET done = done + $3, records = records + $4 WHERE job = $1 AND owner = $2`,
      [job, owner, done.length, done.reduce((n, o) => n + o.records, 0)],
    );
    return { committed: done.length, rejected };
  });
}

/** Adds a delta to the job's aggregates: one upsert per table, keys in order (concurrent commits lock alike). */
async function addDelta(client: pg.PoolClient, job: string, delta: Delta): Promise<void> {
  const counters = [...delta.counters].filter(([, n]) => n !== 0).sort(byKey);
  if (counters.length > 0) {
    await client.query(
      `INSERT INTO counters (job, key, value)
       SELECT $1, key, value FROM unnest($2::text[], $3::bigint[]) AS u(key, value) ORDER BY key
       ON CONFLICT (job, key) DO UPDATE SET value = counters.value + excluded.value`,
      [job, counters.map(([k]) => k), counters.map(([, n]) => n)],
    );
  }
  const sketches = [...delta.latency].filter(([, s]) => s.count > 0).sort(byKey);
  if (sketches.length > 0) {
    const bins = sketches.flatMap(([scope, s]) =>
      [...s.bins].sort((a, b) => a[0] - b[0]).map(([bin, n]) => [scope, bin, n] as const),
    );
    await client.query(
      `INSERT INTO latency_bins (job, scope, bin, count)
       SELECT $1, scope, bin, count FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(scope, bin, count)
        ORDER BY scope, bin
       ON CONFLICT (job, scope, bin) DO UPDATE SET count = latency_bins.count + excluded.count`,
      [job, bins.map((b) => b[0]), bins.map((b) => b[1]), bins.map((b) => b[2])],
    );
    await client.query(
      `INSERT INTO latency_max (job, scope, max)
       SELECT $1, scope, max FROM unnest($2::text[], $3::float8[]) AS u(scope, max) ORDER BY scope
       ON CONFLICT (job, scope) DO UPDATE SET max = GREATEST(latency_max.max, excluded.max)`,
      [job, sketches.map(([scope]) => scope), sketches.map(([, s]) => s.max)],
    );
  }
  const bounds = [...delta.bounds].sort(byKey);
  if (bounds.length > 0) {
    await client.query(
      `INSERT INTO bounds AS b (job, name, min_key, min_text, max_key, max_text)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              AS u(name, min_key, min_text, max_key, max_text) ORDER BY name
       ON CONFLICT (job, name) DO UPDATE SET
         min_key = CASE WHEN excluded.min_key < b.min_key THEN excluded.min_key ELSE b.min_key END,
         min_text = CASE WHEN excluded.min_key < b.min_key THEN excluded.min_text ELSE b.min_text END,
         max_key = CASE WHEN excluded.max_key > b.max_key THEN excluded.max_key ELSE b.max_key END,
         max_text = CASE WHEN excluded.max_key > b.max_key THEN excluded.max_text ELSE b.max_text END`,
      [
        job,
        bounds.map(([name]) => name),
        bounds.map(([, b]) => b.min.key),
        bounds.map(([, b]) => b.min.text),
        bounds.map(([, b]) => b.max.key),
        bounds.map(([, b]) => b.max.text),
      ],
    );
  }
}
