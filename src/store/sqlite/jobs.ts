// Jobs and runs: a job is created once and resumed by name; every ingest is a run with its stats.
import type { Database } from 'better-sqlite3';
import { UsageError } from '../../errors.js';
import type { Job, JobSpec, RunRecord } from '../types.js';
import { statement } from './statements.js';

interface JobRow {
  name: string;
  source: string;
  task: string;
  filters: string;
  created_at: number;
  listed_at: number | null;
  list_cursor: string | null;
}

function toJob(r: JobRow): Job {
  return {
    name: r.name,
    source: r.source,
    task: r.task,
    filters: JSON.parse(r.filters) as Record<string, unknown>,
    createdAt: r.created_at,
    listedAt: r.listed_at,
    listCursor: r.list_cursor,
  };
}

export function openJob(db: Database, spec: JobSpec, now: number): Job {
  const filters = JSON.stringify(spec.filters);
  return db
    .transaction(() => {
      const row = statement<[string], JobRow>(db, 'SELECT * FROM jobs WHERE name = ?').get(spec.name);
      if (!row) {
        statement(
          db,
          'INSERT INTO jobs (name, source, task, filters, created_at) VALUES (?, ?, ?, ?, ?)',
        ).run(spec.name, spec.source, spec.task, filters, now);
        return { ...spec, createdAt: now, listedAt: null, listCursor: null };
      }
      if (row.source !== spec.source || row.task !== spec.task || row.filters !== filters) {
        throw new UsageError(
          `job "${spec.name}" already exists for ${row.source} with ${row.filters === '{}' ? 'no filters' : `filters ${row.filters}`}; ` +
            `this run asks for ${spec.source} with ${filters === '{}' ? 'no filters' : `filters ${filters}`}. ` +
            'Re-run with the same source and filters to resume it, or pick another name with --job.',
        );
      }
      return toJob(row);
    })
    .immediate();
}

export function listJobs(db: Database): Job[] {
  return statement<[], JobRow>(
    db,
    `SELECT j.* FROM jobs j LEFT JOIN (SELECT job, MAX(started_at) AS last FROM runs GROUP BY job) r ON r.job = j.name
       ORDER BY COALESCE(r.last, j.created_at) DESC, j.name`,
  )
    .all()
    .map(toJob);
}

export function startRun(db: Database, job: string, owner: string, now: number): number {
  return Number(
    statement(db, 'INSERT INTO runs (job, owner, started_at) VALUES (?, ?, ?)').run(job, owner, now)
      .lastInsertRowid,
  );
}

export function endRun(
  db: Database,
  runId: number,
  outcome: string,
  stats: Record<string, number>,
  now: number,
): void {
  statement(db, 'UPDATE runs SET ended_at = ?, outcome = ?, stats = ? WHERE id = ?').run(
    now,
    outcome,
    JSON.stringify(stats),
    runId,
  );
}

export function listRuns(db: Database, job: string, limit: number): RunRecord[] {
  return statement<
    [string, number],
    {
      id: number;
      owner: string;
      started_at: number;
      ended_at: number | null;
      outcome: string | null;
      stats: string;
    }
  >(db, 'SELECT * FROM runs WHERE job = ? ORDER BY id DESC LIMIT ?')
    .all(job, limit)
    .map((r) => ({
      id: r.id,
      owner: r.owner,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      outcome: r.outcome,
      stats: JSON.parse(r.stats) as Record<string, number>,
    }));
}

export function addRunEvent(db: Database, runId: number, at: number, message: string): void {
  statement(db, 'INSERT INTO run_events (run_id, at, message) VALUES (?, ?, ?)').run(runId, at, message);
}

/** The job's latest run events (concurrency changes and their reasons), newest first. */
export function listRunEvents(
  db: Database,
  job: string,
  limit: number,
): { run: number; at: number; message: string }[] {
  return statement<[string, number], { run: number; at: number; message: string }>(
    db,
    `SELECT e.run_id AS run, e.at, e.message FROM run_events e JOIN runs r ON r.id = e.run_id
     WHERE r.job = ? ORDER BY e.at DESC, e.rowid DESC LIMIT ?`,
  ).all(job, limit);
}

/**
 * Takes the job's listing for `owner` when nobody else holds it and either the listing is not
 * complete or no other live worker is on the job: of many workers started together, one lists.
 */
export function claimListing(db: Database, job: string, owner: string, ttlMs: number, now: number): boolean {
  return db
    .transaction(() => {
      const row = statement<
        [string],
        {
          listed_at: number | null;
          list_cursor: string | null;
          lister: string | null;
          lister_expires: number | null;
        }
      >(db, 'SELECT listed_at, list_cursor, lister, lister_expires FROM jobs WHERE name = ?').get(job);
      if (!row) return false;
      const heldByOther = row.lister !== null && row.lister !== owner && (row.lister_expires ?? 0) >= now;
      if (heldByOther) return false;
      const incomplete = row.listed_at === null || row.list_cursor !== null || row.lister !== null;
      if (!incomplete) {
        const others = statement<[string, string, number], { n: number }>(
          db,
          `SELECT COUNT(*) AS n FROM workers WHERE job = ? AND owner != ? AND left_at IS NULL AND last_seen + ttl_ms >= ?`,
        ).get(job, owner, now) as { n: number };
        if (others.n > 0) return false;
      }
      statement(db, 'UPDATE jobs SET lister = ?, lister_expires = ? WHERE name = ?').run(
        owner,
        now + ttlMs,
        job,
      );
      return true;
    })
    .immediate();
}

/** The listing pass completed: its cursor is cleared and its hold released. */
export function markListed(db: Database, job: string, now: number): void {
  statement(
    db,
    'UPDATE jobs SET listed_at = ?, list_cursor = NULL, lister = NULL, lister_expires = NULL WHERE name = ?',
  ).run(now, job);
}

/** The worker leaves: it stays listed in status, no longer live; a listing it held is let go. */
export function leaveJob(db: Database, job: string, owner: string, now: number): void {
  db.transaction(() => {
    statement(db, 'UPDATE workers SET left_at = ?, last_seen = ? WHERE job = ? AND owner = ?').run(
      now,
      now,
      job,
      owner,
    );
    statement(db, 'UPDATE jobs SET lister = NULL, lister_expires = NULL WHERE name = ? AND lister = ?').run(
      job,
      owner,
    );
  })();
}
