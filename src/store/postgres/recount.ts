// recount: starts the job's counting over in one transaction: every item pending from its
// beginning (leases voided: a commit under one is refused), the aggregates cleared.
import type pg from 'pg';
import { transaction } from './sql.js';

export async function recount(pool: pg.Pool, job: string): Promise<number> {
  return transaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `UPDATE items SET state = 'pending', checkpoint = NULL, covered = 0, attempts = 0, last_error = NULL,
              not_before = '-infinity', lease_owner = NULL, lease_expires = NULL, records = 0, bytes = 0,
              metrics = NULL, result = NULL, done_by = NULL, started_at = NULL, finished_at = NULL
        WHERE job = $1`,
      [job],
    );
    for (const table of ['counters', 'latency_bins', 'latency_max', 'bounds']) {
      await client.query(`DELETE FROM ${table} WHERE job = $1`, [job]);
    }
    await client.query('UPDATE workers SET done = 0, records = 0 WHERE job = $1', [job]);
    return rowCount ?? 0;
  });
}
