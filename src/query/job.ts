// A job as the read-only commands (health, serve, query, export) see it: its status and its
// task's report object, built through the task registry (so every task's report is reachable).
import type { JobStatus, Store } from '../store/types.js';
import { taskEntry } from '../tasks/index.js';

export interface JobView {
  status: JobStatus;
  /** The task's `report --format json` object; null for a task without a report. */
  report: object | null;
}

export async function readJob(store: Store, job: string): Promise<JobView> {
  const status = await store.status(job);
  const entry = taskEntry(status.task);
  if (!entry) return { status, report: null };
  const builder = await entry.report();
  const report = await builder.build({ job, status, aggregates: await store.aggregates(job), store });
  return { status, report };
}
