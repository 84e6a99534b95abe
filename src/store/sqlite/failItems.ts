// failItems: records failed attempts. Each item waits out its backoff as pending, or ends failed
// (with its error and what the attempt left, for `status` and `--retry-failed`) when its attempts
// are used up or the failure is permanent.
import type { Database } from 'better-sqlite3';
import type { ItemFailure } from '../types.js';
import { toJson } from './json.js';
import { statement } from './statements.js';

export function failItems(
  db: Database,
  job: string,
  owner: string,
  failures: ItemFailure[],
  maxAttempts: number,
  now: number,
): Map<string, 'retry' | 'failed'> {
  const fail = statement<Record<string, unknown>, { state: string }>(
    db,
    `UPDATE items SET attempts = attempts + 1, last_error = @error, not_before = @notBefore,
         lease_owner = NULL, lease_expires = NULL, finished_at = @now,
         result = COALESCE(@result, result), metrics = COALESCE(@metrics, metrics),
         state = CASE WHEN @permanent OR attempts + 1 >= @max THEN 'failed' ELSE 'pending' END
       WHERE job = @job AND id = @id AND state = 'leased' AND lease_owner = @owner AND fence = @fence
       RETURNING state`,
  );
  const states = new Map<string, 'retry' | 'failed'>();
  db.transaction(() => {
    for (const f of failures) {
      const row = fail.get({
        job,
        owner,
        id: f.id,
        fence: f.fence,
        error: f.error,
        notBefore: now + f.delayMs,
        now,
        permanent: f.permanent ? 1 : 0,
        max: maxAttempts,
        result: toJson(f.result),
        metrics: toJson(f.metrics),
      });
      if (row) states.set(f.id, row.state === 'failed' ? 'failed' : 'retry');
    }
  }).immediate();
  return states;
}
