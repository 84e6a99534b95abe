// status: the job as `status` shows it, from one snapshot: items by state, bytes, records, the
// first failures, every worker (live ones first), the latest runs and run events.
import type pg from 'pg';
import type { FailedItem, JobProgress, JobStatus, Json, WorkerStatus } from '../types.js';
import { listRunEvents, listRuns } from './runs.js';
import { ms, SNAPSHOT, transaction } from './sql.js';

/**
 * The counts of `status` in one statement (one round trip): every worker reads them each second.
 * `db` is the pool, or a client inside `status`'s snapshot.
 */
export async function progress(db: pg.Pool | pg.PoolClient, job: string): Promise<JobProgress> {
  const { rows } = await db.query<{
    complete: boolean | null;
    workers: number;
    states: { state: keyof JobStatus['items']; n: number; size: number; records: number }[] | null;
  }>(
    // A listing held now is a pass under way, even over a complete one.
    `SELECT (SELECT listed_at IS NOT NULL AND list_cursor IS NULL AND (lister IS NULL OR lister_expires < now())
               FROM jobs WHERE name = $1) AS complete,
            (SELECT count(*)::int FROM workers w WHERE w.job = $1
                AND NOT (w.left_at IS NULL AND w.last_seen < now() - w.ttl_ms * interval '1 millisecond')) AS workers,
            (SELECT json_agg(s) FROM (
               SELECT state, count(*) AS n, COALESCE(sum(size), 0)::bigint AS size,
                      COALESCE(sum(records), 0)::bigint AS records
                 FROM items WHERE job = $1 GROUP BY state) s) AS states`,
    [job],
  );
  const row = rows[0];
  const items = { total: 0, pending: 0, leased: 0, done: 0, failed: 0 };
  const bytes = { total: 0, done: 0 };
  let records = 0;
  for (const r of row?.states ?? []) {
    // Through json_agg, bigints arrive as JSON numbers.
    items[r.state] = Number(r.n);
    items.total += Number(r.n);
    bytes.total += Number(r.size);
    if (r.state === 'done') bytes.done += Number(r.size);
    records += Number(r.records);
  }
  return { listingComplete: row?.complete ?? false, items, bytes, records, workers: row?.workers ?? 0 };
}

export async function status(pool: pg.Pool, job: string): Promise<JobStatus> {
  return transaction(
    pool,
    async (client) => {
      const jobRow = await client.query<{ source: string; task: string }>(
        'SELECT source, task FROM jobs WHERE name = $1',
        [job],
      );
      const { listingComplete, items, bytes, records } = await progress(client, job);
      const failures = await client.query<{
        id: string;
        attempts: number;
        error: string;
        result: Json | null;
        metrics: Record<string, number> | null;
      }>(
        `SELECT id, attempts, COALESCE(last_error, '') AS error, result, metrics
           FROM items WHERE job = $1 AND state = 'failed' ORDER BY id LIMIT 100`,
        [job],
      );
      const workers = await client.query<{
        owner: string;
        host: string;
        done: number;
        leased: number;
        records: number;
        started_at: number;
        last_seen: number;
        left: boolean;
        stale: boolean;
      }>(
        `SELECT w.owner, w.host, w.done, w.records, ${ms('w.started_at')} AS started_at, ${ms('w.last_seen')} AS last_seen,
                w.left_at IS NOT NULL AS left,
                (w.left_at IS NULL AND w.last_seen < now() - w.ttl_ms * interval '1 millisecond') AS stale,
                (SELECT count(*) FROM items i WHERE i.job = w.job AND i.state = 'leased' AND i.lease_owner = w.owner) AS leased
           FROM workers w WHERE w.job = $1
          ORDER BY w.left_at IS NULL DESC, w.last_seen DESC, w.owner
          LIMIT 200`,
        [job],
      );
      return {
        job,
        source: jobRow.rows[0]?.source ?? '',
        task: jobRow.rows[0]?.task ?? '',
        listingComplete,
        items,
        bytes,
        records,
        failures: failures.rows.map(
          (f): FailedItem => ({
            id: f.id,
            attempts: f.attempts,
            error: f.error,
            ...(f.result !== null ? { result: f.result } : {}),
            ...(f.metrics !== null ? { metrics: f.metrics } : {}),
          }),
        ),
        workers: workers.rows.map(
          (w): WorkerStatus => ({
            owner: w.owner,
            host: w.host,
            done: w.done,
            leased: w.leased,
            records: w.records,
            startedAt: w.started_at,
            lastSeen: w.last_seen,
            left: w.left,
            stale: w.stale,
            rate: w.last_seen > w.started_at ? w.done / ((w.last_seen - w.started_at) / 1000) : 0,
          }),
        ),
        runs: await listRuns(client, job, 10),
        events: await listRunEvents(client, job, 20),
      };
    },
    SNAPSHOT,
  );
}
