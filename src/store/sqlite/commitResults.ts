// commitResults: ONE transaction marks a batch of items done and adds their deltas to the job's
// aggregates. A unit with an item whose lease was taken over (fencing token moved on) adds nothing.
import type { Database } from 'better-sqlite3';
import { Delta } from '../../aggregate/delta.js';
import type { CommitUnit } from '../types.js';
import { toJson } from './json.js';
import { statement } from './statements.js';

export function commitResults(
  db: Database,
  job: string,
  owner: string,
  units: CommitUnit[],
): { committed: number; rejected: string[] } {
  const done = statement(
    db,
    `UPDATE items SET state = 'done', checkpoint = ?, covered = ?,
       records = records + ?, bytes = bytes + ?, started_at = ?, finished_at = ?,
       metrics = ?, result = ?, done_by = ?,
       lease_owner = NULL, lease_expires = NULL, last_error = NULL
     WHERE job = ? AND id = ? AND state = 'leased' AND lease_owner = ? AND fence = ?`,
  );
  const worker = statement(
    db,
    'UPDATE workers SET done = done + ?, records = records + ? WHERE job = ? AND owner = ?',
  );
  const counter = statement(
    db,
    `INSERT INTO counters (job, key, value) VALUES (?, ?, ?)
     ON CONFLICT (job, key) DO UPDATE SET value = value + excluded.value`,
  );
  const bin = statement(
    db,
    `INSERT INTO latency_bins (job, scope, bin, count) VALUES (?, ?, ?, ?)
     ON CONFLICT (job, scope, bin) DO UPDATE SET count = count + excluded.count`,
  );
  const max = statement(
    db,
    `INSERT INTO latency_max (job, scope, max) VALUES (?, ?, ?)
     ON CONFLICT (job, scope) DO UPDATE SET max = MAX(max, excluded.max)`,
  );
  const bound = statement(
    db,
    `INSERT INTO bounds (job, name, min_key, min_text, max_key, max_text) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (job, name) DO UPDATE SET
       min_text = CASE WHEN excluded.min_key < min_key THEN excluded.min_text ELSE min_text END,
       min_key = MIN(min_key, excluded.min_key),
       max_text = CASE WHEN excluded.max_key > max_key THEN excluded.max_text ELSE max_text END,
       max_key = MAX(max_key, excluded.max_key)`,
  );
  let committed = 0;
  let records = 0;
  const rejected: string[] = [];
  const mark = (unit: CommitUnit) => {
    for (const o of unit.items) {
      const changed = done.run(
        toJson(o.checkpoint),
        o.covered,
        o.records,
        o.bytes,
        o.startedAt,
        o.finishedAt,
        toJson(o.metrics),
        toJson(o.result),
        owner,
        job,
        o.id,
        owner,
        o.fence,
      ).changes;
      // Rolls back to the unit's savepoint: its other items stay as they were.
      if (changed !== 1) throw new StaleUnit();
    }
  };
  const markUnit = db.transaction(mark);
  db.transaction(() => {
    const total = new Delta();
    for (const unit of units) {
      try {
        // A savepoint only where there is something to roll back: units of several items.
        if (unit.items.length > 1) markUnit(unit);
        else mark(unit);
      } catch (error) {
        if (!(error instanceof StaleUnit)) throw error;
        rejected.push(...unit.items.map((o) => o.id));
        continue;
      }
      if (unit.delta) total.merge(unit.delta);
      committed += unit.items.length;
      for (const o of unit.items) records += o.records;
    }
    if (committed > 0) worker.run(committed, records, job, owner);
    for (const [key, value] of total.counters) if (value !== 0) counter.run(job, key, value);
    for (const [scope, sketch] of total.latency) {
      if (sketch.count === 0) continue;
      for (const [b, n] of sketch.bins) bin.run(job, scope, b, n);
      max.run(job, scope, sketch.max);
    }
    for (const [name, b] of total.bounds) bound.run(job, name, b.min.key, b.min.text, b.max.key, b.max.text);
  }).immediate();
  return { committed, rejected };
}

class StaleUnit extends Error {}
