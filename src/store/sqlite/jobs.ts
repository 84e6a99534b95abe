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

export function markListed(db: Database, job: string, now: number): void {
  statement(db, 'UPDATE jobs SET listed_at = ?, list_cursor = NULL WHERE name = ?').run(now, job);
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
