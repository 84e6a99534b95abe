// Prometheus metrics of every job `serve` watches, filled from the monitor's latest read when
// scraped (a Registry of our own: nothing of the process's default metrics leaks in). Labels are
// bounded: jobs are the monitor's (at most its maxJobs), states and kinds are fixed lists.
import { Gauge, Registry } from 'prom-client';
import { concurrencyChange, type JobSnapshot, type Monitor, workerState } from './monitor.js';

const ITEM_STATES = ['pending', 'leased', 'done', 'failed'] as const;

/** Run counters (written when a run ends) shown as request outcomes: `http.<key>` -> outcome. */
const REQUEST_OUTCOMES: Record<string, string> = {
  requests: 'sent',
  retries: 'retried',
  throttled: 'throttled',
  timeouts: 'timeout',
  resets: 'reset',
};

/** How a job gave way under load, from its runs' counters: items retried, given back, leases lost. */
const DEGRADATION: Record<string, string> = {
  retries: 'item_retried',
  requeued: 'item_given_back',
  lost: 'lease_lost',
  rejected: 'commit_rejected',
  storeRetries: 'store_call_retried',
};

/** Outcomes of the runs a job counts as a success (it completed). */
const SUCCESS = new Set(['done', 'nothing-new']);

function sumStats(job: JobSnapshot, key: string): number | undefined {
  let total: number | undefined;
  for (const r of job.runs) {
    const v = r.stats[key];
    if (typeof v === 'number') total = (total ?? 0) + v;
  }
  return total;
}

export function createMetrics(monitor: Monitor): Registry {
  const registry = new Registry();
  const jobs = () => monitor.snapshot.jobs;
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (set: (labels: Record<string, string>, value: number) => void) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels, value));
      },
    });

  gauge('sluice_job_items', "A job's items by state.", ['job', 'state'], (set) => {
    for (const j of jobs()) for (const state of ITEM_STATES) set({ job: j.job, state }, j.items[state]);
  });
  gauge(
    'sluice_job_records_total',
    'Records (log lines, rows) counted by the committed items.',
    ['job'],
    (set) => {
      for (const j of jobs()) set({ job: j.job }, j.records);
    },
  );
  gauge(
    'sluice_job_bytes',
    "A job's bytes: listed in total, and covered by done items.",
    ['job', 'kind'],
    (set) => {
      for (const j of jobs()) {
        set({ job: j.job, kind: 'total' }, j.bytes.total);
        set({ job: j.job, kind: 'done' }, j.bytes.done);
      }
    },
  );
  gauge(
    'sluice_requests_total',
    "Requests to the source by outcome, summed over the job's recent runs (counted when a run ends).",
    ['job', 'outcome'],
    (set) => {
      for (const j of jobs())
        for (const [key, outcome] of Object.entries(REQUEST_OUTCOMES)) {
          const v = sumStats(j, `http.${key}`);
          if (v !== undefined) set({ job: j.job, outcome }, v);
        }
    },
  );
  gauge(
    'sluice_job_last_success_timestamp_seconds',
    'When a run of the job last ended complete (no item left), seconds since the epoch.',
    ['job'],
    (set) => {
      for (const j of jobs()) {
        const ends = j.runs
          .filter((r) => r.endedAt !== null && SUCCESS.has(r.outcome ?? ''))
          .map((r) => r.endedAt ?? 0);
        if (ends.length > 0) set({ job: j.job }, Math.max(...ends) / 1000);
      }
    },
  );
  gauge(
    'sluice_job_workers',
    'Workers on a job: live, stale (heartbeat stopped for longer than its lease), or left (ended their run).',
    ['job', 'state'],
    (set) => {
      for (const j of jobs())
        for (const state of ['live', 'stale', 'left'] as const)
          set({ job: j.job, state }, j.workers.filter((w) => workerState(w) === state).length);
    },
  );
  gauge('sluice_job_rate_items_per_second', 'Items done per second over the last minute.', ['job'], (set) => {
    for (const j of jobs()) if (j.rate !== null) set({ job: j.job }, j.rate);
  });
  gauge(
    'sluice_job_concurrency_limit',
    "The concurrency limit the governor's latest decision set.",
    ['job'],
    (set) => {
      for (const j of jobs()) if (j.concurrency !== null) set({ job: j.job }, j.concurrency);
    },
  );
  gauge(
    'sluice_job_concurrency_decisions',
    'Concurrency decisions among the latest events the store keeps, by direction (down: the service or the host pushed back).',
    ['job', 'direction'],
    (set) => {
      for (const j of jobs()) {
        let up = 0;
        let down = 0;
        for (const e of j.events) {
          const change = concurrencyChange(e.message);
          if (change) change.to > change.from ? up++ : down++;
        }
        set({ job: j.job, direction: 'up' }, up);
        set({ job: j.job, direction: 'down' }, down);
      }
    },
  );
  gauge(
    'sluice_job_degradation_total',
    'How a job gave way, summed over its recent runs: items retried, given back to spare the host, leases lost, commits rejected, store calls retried.',
    ['job', 'kind'],
    (set) => {
      for (const j of jobs())
        for (const [key, kind] of Object.entries(DEGRADATION)) {
          const v = sumStats(j, key);
          if (v !== undefined) set({ job: j.job, kind }, v);
        }
    },
  );
  return registry;
}
