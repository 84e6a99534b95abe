// listJobs: every job in the store, the most recently run first.
import type pg from 'pg';
import type { Job } from '../types.js';
import { JOB_COLUMNS, type JobRow, toJob } from './openJob.js';

export async function listJobs(pool: pg.Pool): Promise<Job[]> {
  const { rows } = await pool.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs j
       LEFT JOIN LATERAL (SELECT max(started_at) AS last FROM runs r WHERE r.job = j.name) r ON true
      ORDER BY COALESCE(r.last, j.created_at) DESC, j.name`,
  );
  return rows.map(toJob);
}
