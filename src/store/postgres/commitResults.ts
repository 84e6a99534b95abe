// commitResults: ONE statement marks the units' items done and adds their summed deltas to the job's
// aggregates. A unit with any item no longer leased to `owner` by that fence is rejected whole: none
// of its items, nothing of its delta.
//
// One statement, not a transaction of nine: a commit is one round trip to the server. Its writes are
// data-modifying CTEs that all wait on one check: that every item of the batch is still locked as
// ours. When some are not (a lease lost to a reclaim), the statement changes nothing and says which
// are ours; the units made only of those are committed by the same statement again.
import type pg from 'pg';
import { Delta } from '../../aggregate/delta.js';
import type { CommitUnit, ItemOutcome } from '../types.js';
import { withClient } from './sql.js';

const byKey = <T>(a: [string, T], b: [string, T]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export async function commitResults(
  pool: pg.Pool,
  job: string,
  owner: string,
  units: CommitUnit[],
): Promise<{ committed: number; rejected: string[] }> {
  let accepted = units.filter((u) => u.items.length > 0);
  const rejected: string[] = [];
  return withClient(pool, async (client) => {
    while (accepted.length > 0) {
      const ours = await commitAll(client, job, owner, accepted);
      if (ours === null) return { committed: accepted.reduce((n, u) => n + u.items.length, 0), rejected };
      const kept = accepted.filter((u) => u.items.every((o) => ours.has(o.id)));
      for (const u of accepted) if (!kept.includes(u)) rejected.push(...u.items.map((o) => o.id));
      accepted = kept;
    }
    return { committed: 0, rejected };
  });
}

/**
 * Commits every unit, or nothing: null when committed, else the ids of the batch still ours (locked,
 * same fence, leased to `owner`).
 */
async function commitAll(
  client: pg.PoolClient,
  job: string,
  owner: string,
  units: CommitUnit[],
): Promise<Set<string> | null> {
  // Items in id order, as heartbeats lock them: two statements never wait on each other in a circle.
  const done: ItemOutcome[] = units
    .flatMap((u) => u.items)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const total = new Delta();
  for (const unit of units) if (unit.delta) total.merge(unit.delta);
  const counters = [...total.counters].filter(([, n]) => n !== 0).sort(byKey);
  const sketches = [...total.latency].filter(([, s]) => s.count > 0).sort(byKey);
  const bins = sketches.flatMap(([scope, s]) =>
    [...s.bins].sort((a, b) => a[0] - b[0]).map(([bin, n]) => [scope, bin, n] as const),
  );
  const bounds = [...total.bounds].sort(byKey);
  const { rows } = await client.query<{ complete: boolean; ours: string[] | null }>(
    `WITH u AS (
       SELECT * FROM unnest($3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[],
                            $9::text[], $10::text[], $11::float8[], $12::float8[]) WITH ORDINALITY
         AS u(id, fence, checkpoint, covered, records, bytes, metrics, result, started_at, finished_at, n)
     ),
     -- One key lookup per item (LATERAL), whatever the planner believes of the table's size.
     locked AS MATERIALIZED (
       SELECT u.* FROM u CROSS JOIN LATERAL (
         SELECT 1 FROM items
          WHERE job = $1 AND id = u.id AND fence = u.fence AND state = 'leased' AND lease_owner = $2
            FOR UPDATE) x
        ORDER BY u.n
     ),
     ok AS (SELECT count(*) = cardinality($3::text[]) AS complete FROM locked),
     items_done AS (
       UPDATE items i SET state = 'done', checkpoint = l.checkpoint::jsonb, covered = l.covered,
              records = i.records + l.records, bytes = i.bytes + l.bytes,
              metrics = l.metrics::jsonb, result = l.result::jsonb, done_by = $2,
              started_at = to_timestamp(l.started_at / 1000.0), finished_at = to_timestamp(l.finished_at / 1000.0),
              lease_owner = NULL, lease_expires = NULL, last_error = NULL
         FROM locked l
        WHERE (SELECT complete FROM ok) AND i.job = $1 AND i.id = l.id
     ),
     -- Aggregates: one upsert per table, keys in order (concurrent commits lock alike).
     counters_added AS (
       INSERT INTO counters (job, key, value)
       SELECT $1, key, value FROM unnest($13::text[], $14::bigint[]) AS c(key, value)
        WHERE (SELECT complete FROM ok) ORDER BY key
       ON CONFLICT (job, key) DO UPDATE SET value = counters.value + excluded.value
     ),
     bins_added AS (
       INSERT INTO latency_bins (job, scope, bin, count)
       SELECT $1, scope, bin, count FROM unnest($15::text[], $16::int[], $17::bigint[]) AS b(scope, bin, count)
        WHERE (SELECT complete FROM ok) ORDER BY scope, bin
       ON CONFLICT (job, scope, bin) DO UPDATE SET count = latency_bins.count + excluded.count
     ),
     max_added AS (
       INSERT INTO latency_max (job, scope, max)
       SELECT $1, scope, max FROM unnest($18::text[], $19::float8[]) AS m(scope, max)
        WHERE (SELECT complete FROM ok) ORDER BY scope
       ON CONFLICT (job, scope) DO UPDATE SET max = GREATEST(latency_max.max, excluded.max)
     ),
     bounds_added AS (
       INSERT INTO bounds AS b (job, name, min_key, min_text, max_key, max_text)
       SELECT $1, * FROM unnest($20::text[], $21::text[], $22::text[], $23::text[], $24::text[])
              AS v(name, min_key, min_text, max_key, max_text)
        WHERE (SELECT complete FROM ok) ORDER BY name
       ON CONFLICT (job, name) DO UPDATE SET
         min_key = CASE WHEN excluded.min_key < b.min_key THEN excluded.min_key ELSE b.min_key END,
         min_text = CASE WHEN excluded.min_key < b.min_key THEN excluded.min_text ELSE b.min_text END,
         max_key = CASE WHEN excluded.max_key > b.max_key THEN excluded.max_key ELSE b.max_key END,
         max_text = CASE WHEN excluded.max_key > b.max_key THEN excluded.max_text ELSE b.max_text END
     ),
     worker_counted AS (
       UPDATE workers SET done = done + cardinality($3::text[]), records = records + $25
        WHERE job = $1 AND owner = $2 AND (SELECT complete FROM ok)
     )
     SELECT (SELECT complete FROM ok) AS complete, (SELECT array_agg(id) FROM locked) AS ours`,
    [
      job,
      owner,
      done.map((o) => o.id),
      done.map((o) => o.fence),
      done.map((o) => JSON.stringify(o.checkpoint ?? null)),
      done.map((o) => o.covered),
      done.map((o) => o.records),
      done.map((o) => o.bytes),
      done.map((o) => (o.metrics ? JSON.stringify(o.metrics) : null)),
      done.map((o) => (o.result === undefined ? null : JSON.stringify(o.result))),
      done.map((o) => o.startedAt),
      done.map((o) => o.finishedAt),
      counters.map(([k]) => k),
      counters.map(([, n]) => n),
      bins.map((b) => b[0]),
      bins.map((b) => b[1]),
      bins.map((b) => b[2]),
      sketches.map(([scope]) => scope),
      sketches.map(([, s]) => s.max),
      bounds.map(([name]) => name),
      bounds.map(([, b]) => b.min.key),
      bounds.map(([, b]) => b.min.text),
      bounds.map(([, b]) => b.max.key),
      bounds.map(([, b]) => b.max.text),
      done.reduce((n, o) => n + o.records, 0),
    ],
  );
  const row = rows[0];
  if (row?.complete) return null;
  return new Set(row?.ours ?? []);
}
