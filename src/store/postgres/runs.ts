// Runs: every run of a job (who, when, how it ended, its stats) and its events (concurrency
// changes and other decisions, with their reasons).
import type pg from 'pg';
import type { RunRecord } from '../types.js';
import { ms } from './sql.js';

type Queryable = pg.Pool | pg.PoolClient;

export async function startRun(db: Queryable, job: string, owner: string, now: number): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    'INSERT INTO runs (job, owner, started_at) VALUES ($1, $2, to_timestamp($3 / 1000.0)) RETURNING id',
    [job, owner, now],
  );
  return (rows[0] as { id: number }).id;
}

export async function endRun(
  db: Queryable,
  runId: number,
  outcome: string,
  stats: Record<string, number>,
  now: number,
): Promise<void> {
  await db.query(
    'UPDATE runs SET ended_at = to_timestamp($2 / 1000.0), outcome = $3, stats = $4::jsonb WHERE id = $1',
    [runId, now, outcome, JSON.stringify(stats)],
  );
}

export async function addRunEvent(db: Queryable, runId: number, at: number, message: string): Promise<void> {
  await db.query('INSERT INTO run_events (run_id, at, message) VALUES ($1, to_timestamp($2 / 1000.0), $3)', [
    runId,
    at,
    message,
  ]);
}

export async function listRuns(db: Queryable, job: string, limit: number): Promise<RunRecord[]> {
  const { rows } = await db.query<{
    id: number;
    owner: string;
    started_at: number;
    ended_at: number | null;
    outcome: string | null;
    stats: Record<string, number>;
  }>(
    `SELECT id, owner, ${ms('started_at')} AS started_at, ${ms('ended_at')} AS ended_at, outcome, stats
       FROM runs WHERE job = $1 ORDER BY id DESC LIMIT $2`,
    [job, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    owner: r.owner,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    outcome: r.outcome,
    stats: r.stats,
  }));
}

/** The job's latest run events, newest first. */
export async function listRunEvents(
  db: Queryable,
  job: string,
  limit: number,
): Promise<{ run: number; at: number; message: string }[]> {
  const { rows } = await db.query<{ run: number; at: number; message: string }>(
    `SELECT e.run_id AS run, ${ms('e.at')} AS at, e.message FROM run_events e JOIN runs r ON r.id = e.run_id
      WHERE r.job = $1 ORDER BY e.at DESC, e.seq DESC LIMIT $2`,
    [job, limit],
  );
  return rows;
}
