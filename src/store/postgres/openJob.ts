// openJob: creates the job, or loads it when it exists with the same spec (source, task, filters).
import type pg from 'pg';
import { UsageError } from '../../errors.js';
import type { Job, JobSpec } from '../types.js';
import { ms } from './sql.js';

export interface JobRow {
  name: string;
  source: string;
  task: string;
  filters: Record<string, unknown>;
  created_at: number;
  listed_at: number | null;
  list_cursor: string | null;
}

export const JOB_COLUMNS = `name, source, task, filters, ${ms('created_at')} AS created_at,
  ${ms('listed_at')} AS listed_at, list_cursor`;

export function toJob(r: JobRow): Job {
  return {
    name: r.name,
    source: r.source,
    task: r.task,
    filters: r.filters,
    createdAt: r.created_at,
    listedAt: r.listed_at,
    listCursor: r.list_cursor,
  };
}

export async function openJob(pool: pg.Pool, spec: JobSpec): Promise<Job> {
  const filters = JSON.stringify(spec.filters);
  // Two statements, not one: the second sees a job another worker created a moment ago.
  await pool.query(
    `INSERT INTO jobs (name, source, task, filters) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (name) DO NOTHING`,
    [spec.name, spec.source, spec.task, filters],
  );
  const { rows } = await pool.query<JobRow & { same: boolean }>(
    `SELECT ${JOB_COLUMNS}, (source = $2 AND task = $3 AND filters = $4::jsonb) AS same FROM jobs WHERE name = $1`,
    [spec.name, spec.source, spec.task, filters],
  );
  const row = rows[0] as JobRow & { same: boolean };
  if (!row.same) {
    const theirs = JSON.stringify(row.filters);
    throw new UsageError(
      `job "${spec.name}" already exists for ${row.source} (task ${row.task}) with ${theirs === '{}' ? 'no filters' : `filters ${theirs}`}; ` +
        `this run asks for ${spec.source} (task ${spec.task}) with ${filters === '{}' ? 'no filters' : `filters ${filters}`}. ` +
        'Re-run with the same source and filters to resume it, or pick another name with --job.',
    );
  }
  return toJob(row);
}
