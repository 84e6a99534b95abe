// Read-side verbs: item counts and failures for `status`, the aggregates for `report`.
import type { Database } from 'better-sqlite3';
import { Delta } from '../../aggregate/delta.js';
import type { JobStatus } from '../types.js';
import { listRunEvents, listRuns } from './jobs.js';
import { statement } from './statements.js';

export function status(db: Database, job: string): JobStatus {
  const jobRow = statement<
    [string],
    { source: string; listed_at: number | null; list_cursor: string | null }
  >(db, 'SELECT source, listed_at, list_cursor FROM jobs WHERE name = ?').get(job);
  const items = { total: 0, pending: 0, leased: 0, done: 0, failed: 0 };
  const bytes = { total: 0, done: 0 };
  let records = 0;
  const rows = statement<
    [string],
    { state: keyof typeof items; n: number; size: number; bytes: number; records: number }
  >(
    db,
    `SELECT state, COUNT(*) AS n, SUM(size) AS size, SUM(bytes) AS bytes, SUM(records) AS records
       FROM items WHERE job = ? GROUP BY state`,
  ).all(job);
  for (const r of rows) {
    items[r.state] = r.n;
    items.total += r.n;
    bytes.total += r.size;
    if (r.state === 'done') bytes.done += r.size;
    records += r.records;
  }
  const failures = statement<[string], { id: string; attempts: number; error: string }>(
    db,
    `SELECT id, attempts, COALESCE(last_error, '') AS error FROM items WHERE job = ? AND state = 'failed' ORDER BY id LIMIT 100`,
  ).all(job);
  return {
    job,
    source: jobRow?.source ?? '',
    listingComplete: jobRow?.listed_at != null && jobRow.list_cursor === null,
    items,
    bytes,
    records,
    failures,
    runs: listRuns(db, job, 10),
    events: listRunEvents(db, job, 20),
  };
}

export function hasWork(db: Database, job: string, now: number) {
  const r = statement<
    [number, number, string],
    { ready: number; waiting: number; leased: number; nextAt: number | null }
  >(
    db,
    `SELECT
         COALESCE(SUM(state = 'pending' AND not_before <= ?), 0) AS ready,
         COALESCE(SUM(state = 'pending' AND not_before > ?), 0) AS waiting,
         COALESCE(SUM(state = 'leased'), 0) AS leased,
         MIN(CASE WHEN state = 'pending' THEN not_before END) AS nextAt
       FROM items WHERE job = ? AND state IN ('pending', 'leased')`,
  ).get(now, now, job);
  return r ?? { ready: 0, waiting: 0, leased: 0, nextAt: null };
}

export function retryFailed(db: Database, job: string): number {
  return statement(
    db,
    `UPDATE items SET state = 'pending', attempts = 0, not_before = 0 WHERE job = ? AND state = 'failed'`,
  ).run(job).changes;
}

/** The job's totals, as one Delta (the sum of every committed item's delta). */
export function aggregates(db: Database, job: string): Delta {
  const total = new Delta();
  for (const r of statement<[string], { key: string; value: number }>(
    db,
    'SELECT key, value FROM counters WHERE job = ?',
  ).all(job)) {
    total.count(r.key, r.value);
  }
  for (const r of statement<[string], { scope: string; bin: number; count: number }>(
    db,
    'SELECT scope, bin, count FROM latency_bins WHERE job = ?',
  ).all(job)) {
    total.sketch(r.scope).addBin(r.bin, r.count);
  }
  for (const r of statement<[string], { scope: string; max: number }>(
    db,
    'SELECT scope, max FROM latency_max WHERE job = ?',
  ).all(job)) {
    total.sketch(r.scope).max = r.max;
  }
  for (const r of statement<
    [string],
    { name: string; min_key: string; min_text: string; max_key: string; max_text: string }
  >(db, 'SELECT * FROM bounds WHERE job = ?').all(job)) {
    total.bounds.set(r.name, {
      min: { key: r.min_key, text: r.min_text },
      max: { key: r.max_key, text: r.max_text },
    });
  }
  return total;
}
