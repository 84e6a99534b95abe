// Picks the job a read command (status, report) is about: --job, or the store's only or latest one.
import { UsageError } from '../../errors.js';
import type { Store } from '../../store/types.js';

export async function chooseJob(
  store: Store,
  requested: string | undefined,
  storePath: string,
): Promise<{ job: string; note?: string }> {
  const jobs = await store.listJobs();
  if (requested !== undefined) {
    if (!jobs.some((j) => j.name === requested)) {
      const known = jobs.map((j) => `  ${j.name}`).join('\n');
      throw new UsageError(
        `no job "${requested}" in ${storePath}${jobs.length > 0 ? `; jobs there:\n${known}` : ': the store has no jobs yet (run `sluice ingest` first)'}`,
      );
    }
    return { job: requested };
  }
  const latest = jobs[0];
  if (!latest)
    throw new UsageError(
      `the store ${storePath} has no jobs yet: run \`sluice ingest <source> --store ${storePath}\` first`,
    );
  return jobs.length === 1
    ? { job: latest.name }
    : {
        job: latest.name,
        note: `showing job "${latest.name}", the latest of ${jobs.length} in ${storePath} (choose with --job)`,
      };
}

/** A job's default name: its source, and its filters when it has any (`file:/logs#2025-06-01,0/3`). */
export function defaultJobName(source: string, filters: Record<string, unknown>): string {
  const values = Object.values(filters);
  return values.length > 0 ? `${source}#${values.join(',')}` : source;
}
