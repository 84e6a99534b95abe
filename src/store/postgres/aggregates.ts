// aggregates: the job's totals, the sum of every committed unit's delta, as one Delta.
import type pg from 'pg';
import { Delta } from '../../aggregate/delta.js';
import { SNAPSHOT, transaction } from './sql.js';

export async function aggregates(pool: pg.Pool, job: string): Promise<Delta> {
  // One snapshot for the four tables: a commit landing in between would be half counted.
  return transaction(
    pool,
    async (client) => {
      const total = new Delta();
      const counters = await client.query<{ key: string; value: number }>(
        'SELECT key, value FROM counters WHERE job = $1',
        [job],
      );
      for (const r of counters.rows) total.count(r.key, r.value);
      const bins = await client.query<{ scope: string; bin: number; count: number }>(
        'SELECT scope, bin, count FROM latency_bins WHERE job = $1',
        [job],
      );
      for (const r of bins.rows) total.sketch(r.scope).addBin(r.bin, r.count);
      const max = await client.query<{ scope: string; max: number }>(
        'SELECT scope, max FROM latency_max WHERE job = $1',
        [job],
      );
      for (const r of max.rows) total.sketch(r.scope).max = r.max;
      const bounds = await client.query<{
        name: string;
        min_key: string;
        min_text: string;
        max_key: string;
        max_text: string;
      }>('SELECT name, min_key, min_text, max_key, max_text FROM bounds WHERE job = $1', [job]);
      for (const r of bounds.rows) {
        total.bounds.set(r.name, {
          min: { key: r.min_key, text: r.min_text },
          max: { key: r.max_key, text: r.max_text },
        });
      }
      return total;
    },
    SNAPSHOT,
  );
}
