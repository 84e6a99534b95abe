// Read-side verbs: item counts and failures for `status`, the aggregates for `report`.
import type { Database } from 'better-sqlite3';
import { Delta } from '../../aggregate/delta.js';
import type { ItemRecord, ItemState, JobProgress, JobStatus, WorkerStatus, WorkLeft } from '../types.js';
import { listRunEvents, listRuns } from './jobs.js';
import { parseJson } from './json.js';
import { statement } from './statements.js';

export function progress(db: Database, job: string, now: number): JobProgress {
  const jobRow = statement<
    [string],
    {
      listed_at: number | null;
      list_cursor: string | null;
      lister: string | null;
      lister_expires: number | null;
    }
  >(db, 'SELECT listed_at, list_cursor, lister, lister_expires FROM jobs WHERE name = ?').get(job);
  const items = { total: 0, pending: 0, leased: 0, done: 0, failed: 0 };
  const bytes = { total: 0, done: 0 };
  let records = 0;
  const rows = statement<[string], { state: keyof typeof items; n: number; size: number; records: number }>(
    db,
    `SELECT state, COUNT(*) AS n, SUM(size) AS size, SUM(records) AS records
       FROM items WHERE job = ? GROUP BY state`,
  ).all(job);
  for (const r of rows) {
    items[r.state] = r.n;
    items.total += r.n;
    bytes.total += r.size;
    if (r.state === 'done') bytes.done += r.size;
    records += r.records;
  }
  const live = statement<[string, number], { n: number }>(
    db,
    'SELECT COUNT(*) AS n FROM workers WHERE job = ? AND NOT (left_at IS NULL AND last_seen + ttl_ms < ?)',
  ).get(job, now);
  const listerLive = jobRow?.lister != null && (jobRow.lister_expires ?? 0) >= now;
  return {
    listingComplete: jobRow?.listed_at != null && jobRow.list_cursor === null && !listerLive,
    items,
    bytes,
    records,
    workers: live?.n ?? 0,
  };
}

export function status(db: Database, job: string, now: number): JobStatus {
  const jobRow = statement<[string], { source: string; task: string }>(
    db,
    'SELECT source, task FROM jobs WHERE name = ?',
  ).get(job);
  const { listingComplete, items, bytes, records } = progress(db, job, now);
  const failures = statement<
    [string],
    { id: string; attempts: number; error: string; result: string | null; metrics: string | null }
  >(
    db,
    `SELECT id, attempts, COALESCE(last_error, '') AS error, result, metrics FROM items
       WHERE job = ? AND state = 'failed' ORDER BY id LIMIT 100`,
  )
    .all(job)
    .map((f) => ({
      id: f.id,
      attempts: f.attempts,
      error: f.error,
      ...(f.result !== null ? { result: parseJson(f.result) } : {}),
      ...(f.metrics !== null ? { metrics: JSON.parse(f.metrics) as Record<string, number> } : {}),
    }));
  return {
    job,
    source: jobRow?.source ?? '',
    task: jobRow?.task ?? '',
    listingComplete,
    items,
    bytes,
    records,
    failures,
    workers: workers(db, job, now),
    runs: listRuns(db, job, 10),
    events: listRunEvents(db, job, 20),
  };
}

function workers(db: Database, job: string, now: number): WorkerStatus[] {
  const leased = new Map(
    statement<[string], { owner: string; n: number }>(
      db,
      `SELECT lease_owner AS owner, COUNT(*) AS n FROM items WHERE job = ? AND state = 'leased' GROUP BY lease_owner`,
    )
      .all(job)
      .map((r) => [r.owner, r.n]),
  );
  return statement<
    [string],
    {
      owner: string;
      host: string;
      started_at: number;
      last_seen: number;
      ttl_ms: number;
      left_at: number | null;
      done: number;
      records: number;
    }
  >(db, 'SELECT * FROM workers WHERE job = ? ORDER BY (left_at IS NULL) DESC, last_seen DESC LIMIT 200')
    .all(job)
    .map((w) => ({
      owner: w.owner,
      host: w.host,
      done: w.done,
      leased: leased.get(w.owner) ?? 0,
      records: w.records,
      startedAt: w.started_at,
      lastSeen: w.last_seen,
      left: w.left_at !== null,
      stale: w.left_at === null && w.last_seen + w.ttl_ms < now,
      rate: w.last_seen > w.started_at ? (w.done * 1000) / (w.last_seen - w.started_at) : 0,
    }));
}

export function workLeft(db: Database, job: string, now: number): WorkLeft {
  const r = statement<
    { now: number; job: string },
    { ready: number; waiting: number; leased: number; nextAt: number | null }
  >(
    db,
    // One state at a time, so each side reads its own partial index (schema.ts, migration 3).
    `SELECT COALESCE(SUM(ready), 0) AS ready, COALESCE(SUM(waiting), 0) AS waiting,
         COALESCE(SUM(leased), 0) AS leased, MIN(next_at) AS nextAt
       FROM (SELECT not_before <= @now AS ready, not_before > @now AS waiting, 0 AS leased,
                    CASE WHEN not_before > @now THEN not_before END AS next_at
               FROM items WHERE job = @job AND state = 'pending'
             UNION ALL
             SELECT 0, 0, 1, lease_expires FROM items WHERE job = @job AND state = 'leased')`,
  ).get({ now, job });
  if (!r) return { ready: 0, waiting: 0, leased: 0, nextInMs: null };
  return {
    ready: r.ready,
    waiting: r.waiting,
    leased: r.leased,
    nextInMs: r.nextAt === null ? null : Math.max(0, r.nextAt - now),
  };
}

/** Starts the job's counting over: every item pending from its beginning, its aggregates cleared. */
export function recount(db: Database, job: string): number {
  return db
    .transaction(() => {
      for (const table of ['counters', 'latency_bins', 'latency_max', 'bounds']) {
        statement(db, `DELETE FROM ${table} WHERE job = ?`).run(job);
      }
      statement(db, 'UPDATE workers SET done = 0, records = 0 WHERE job = ?').run(job);
      return statement(
        db,
        `UPDATE items SET state = 'pending', checkpoint = NULL, covered = 0, records = 0, bytes = 0, attempts = 0,
           not_before = 0, last_error = NULL, metrics = NULL, result = NULL, lease_owner = NULL, lease_expires = NULL
         WHERE job = ?`,
      ).run(job).changes;
    })
    .immediate();
}

interface ItemRow {
  id: string;
  state: ItemState;
  size: number;
  version: string | null;
  payload: string | null;
  checkpoint: string | null;
  covered: number;
  attempts: number;
  records: number;
  bytes: number;
  metrics: string | null;
  result: string | null;
  last_error: string | null;
  lease_owner: string | null;
  done_by: string | null;
  started_at: number | null;
  finished_at: number | null;
}

export function listItems(
  db: Database,
  job: string,
  options: { state?: ItemState; after?: string; limit: number },
): ItemRecord[] {
  const rows = statement<{ job: string; state: string | null; after: string | null; limit: number }, ItemRow>(
    db,
    `SELECT * FROM items WHERE job = @job AND (@state IS NULL OR state = @state) AND (@after IS NULL OR id > @after)
       ORDER BY id LIMIT @limit`,
  ).all({ job, state: options.state ?? null, after: options.after ?? null, limit: options.limit });
  return rows.map((r) => ({
    id: r.id,
    state: r.state,
    size: r.size,
    version: r.version,
    payload: parseJson(r.payload),
    checkpoint: parseJson(r.checkpoint),
    covered: r.covered,
    attempts: r.attempts,
    records: r.records,
    bytes: r.bytes,
    metrics: r.metrics === null ? null : (JSON.parse(r.metrics) as Record<string, number>),
    result: parseJson(r.result),
    error: r.last_error,
    owner: r.lease_owner ?? r.done_by,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  }));
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
