// mergeStores: one store from the per-machine stores of one partitioned job (machines that shared
// nothing). Items are copied, aggregates added (counters and latency bins sum, maxima and bounds
// keep their extremes), runs and workers kept; all in one transaction. Callers check first that
// the stores hold one job and share no item (findOverlap).
import type { Database } from 'better-sqlite3';

export interface MergeInput {
  path: string;
  /** The job's name in that store. */
  job: string;
}

/** The first item id found in more than one input, with the two inputs, or null. */
export function findOverlap(db: Database, inputs: MergeInput[]): { id: string; a: string; b: string } | null {
  for (let i = 0; i < inputs.length; i++) {
    for (let j = i + 1; j < inputs.length; j++) {
      const row = db
        .prepare(
          `SELECT a.id FROM s${i}.items a JOIN s${j}.items b ON b.id = a.id WHERE a.job = ? AND b.job = ? LIMIT 1`,
        )
        .get((inputs[i] as MergeInput).job, (inputs[j] as MergeInput).job) as { id: string } | undefined;
      if (row) return { id: row.id, a: (inputs[i] as MergeInput).path, b: (inputs[j] as MergeInput).path };
    }
  }
  return null;
}

/** Attaches the inputs as s0, s1, ... (only read from). */
export function attachInputs(db: Database, inputs: MergeInput[]): void {
  inputs.forEach((input, i) => {
    db.prepare(`ATTACH DATABASE ? AS s${i}`).run(input.path);
  });
}

export function mergeStores(
  db: Database,
  inputs: MergeInput[],
  job: { name: string; source: string; task: string; filters: string; createdAt: number; partial: boolean },
): { items: number } {
  let items = 0;
  db.transaction(() => {
    const listed = inputs.map((input, i) =>
      db.prepare(`SELECT listed_at, list_cursor FROM s${i}.jobs WHERE name = ?`).get(input.job),
    ) as { listed_at: number | null; list_cursor: string | null }[];
    // The whole job's listing is complete only when every partition's was.
    const complete = !job.partial && listed.every((l) => l.listed_at !== null && l.list_cursor === null);
    const listedAt = complete ? Math.max(...listed.map((l) => l.listed_at ?? 0)) : null;
    db.prepare(
      'INSERT INTO jobs (name, source, task, filters, created_at, listed_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(job.name, job.source, job.task, job.filters, job.createdAt, listedAt);
    inputs.forEach((input, i) => {
      const s = `s${i}`;
      // Items leased on a machine that has gone: pending again, ready for whoever resumes.
      items += db
        .prepare(
          `INSERT INTO items (job, id, state, size, version, covered, attempts, last_error, not_before, fence,
             records, bytes, started_at, finished_at, payload, checkpoint, metrics, result, done_by)
           SELECT @job, id, CASE state WHEN 'leased' THEN 'pending' ELSE state END, size, version, covered,
             attempts, last_error, 0, fence, records, bytes, started_at, finished_at, payload, checkpoint,
             metrics, result, done_by
           FROM ${s}.items WHERE job = @from`,
        )
        .run({ job: job.name, from: input.job }).changes;
      db.prepare(
        `INSERT INTO counters (job, key, value) SELECT @job, key, value FROM ${s}.counters WHERE job = @from
         ON CONFLICT (job, key) DO UPDATE SET value = value + excluded.value`,
      ).run({ job: job.name, from: input.job });
      db.prepare(
        `INSERT INTO latency_bins (job, scope, bin, count) SELECT @job, scope, bin, count FROM ${s}.latency_bins
         WHERE job = @from ON CONFLICT (job, scope, bin) DO UPDATE SET count = count + excluded.count`,
      ).run({ job: job.name, from: input.job });
      db.prepare(
        `INSERT INTO latency_max (job, scope, max) SELECT @job, scope, max FROM ${s}.latency_max WHERE job = @from
         ON CONFLICT (job, scope) DO UPDATE SET max = MAX(max, excluded.max)`,
      ).run({ job: job.name, from: input.job });
      db.prepare(
        `INSERT INTO bounds (job, name, min_key, min_text, max_key, max_text)
         SELECT @job, name, min_key, min_text, max_key, max_text FROM ${s}.bounds WHERE job = @from
         ON CONFLICT (job, name) DO UPDATE SET
           min_text = CASE WHEN excluded.min_key < min_key THEN excluded.min_text ELSE min_text END,
           min_key = MIN(min_key, excluded.min_key),
           max_text = CASE WHEN excluded.max_key > max_key THEN excluded.max_text ELSE max_text END,
           max_key = MAX(max_key, excluded.max_key)`,
      ).run({ job: job.name, from: input.job });
      db.prepare(
        `INSERT INTO workers (job, owner, host, started_at, last_seen, ttl_ms, left_at, done, records)
         SELECT @job, owner, host, started_at, last_seen, ttl_ms, COALESCE(left_at, last_seen), done, records
         FROM ${s}.workers WHERE job = @from ON CONFLICT (job, owner) DO NOTHING`,
      ).run({ job: job.name, from: input.job });
      const runs = db.prepare(`SELECT * FROM ${s}.runs WHERE job = ? ORDER BY id`).all(input.job) as {
        id: number;
        owner: string;
        started_at: number;
        ended_at: number | null;
        outcome: string | null;
        stats: string;
      }[];
      for (const r of runs) {
        const id = db
          .prepare(
            'INSERT INTO runs (job, owner, started_at, ended_at, outcome, stats) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(
            job.name,
            r.owner,
            r.started_at,
            r.ended_at,
            r.outcome ?? 'unfinished',
            r.stats,
          ).lastInsertRowid;
        db.prepare(
          `INSERT INTO run_events (run_id, at, message) SELECT ?, at, message FROM ${s}.run_events WHERE run_id = ?`,
        ).run(id, r.id);
      }
    });
  }).immediate();
  return { items };
}
