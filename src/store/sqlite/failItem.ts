// failItem: records a failed attempt. The item waits out its backoff as pending, or ends failed
// (with its error, for `status` and `--retry-failed`) when its attempts are used up.
import type { Database } from 'better-sqlite3';
import { statement } from './statements.js';

export function failItem(
  db: Database,
  job: string,
  owner: string,
  item: { id: string; fence: number },
  error: string,
  retry: { notBefore: number; maxAttempts: number },
): 'retry' | 'failed' {
  const row = statement<
    {
      job: string;
      id: string;
      owner: string;
      fence: number;
      error: string;
      notBefore: number;
      max: number;
    },
    { state: string }
  >(
    db,
    `UPDATE items SET attempts = attempts + 1, last_error = @error, not_before = @notBefore,
         lease_owner = NULL, lease_expires = NULL,
         state = CASE WHEN attempts + 1 >= @max THEN 'failed' ELSE 'pending' END
       WHERE job = @job AND id = @id AND state = 'leased' AND lease_owner = @owner AND fence = @fence
       RETURNING state`,
  ).get({
    job,
    id: item.id,
    owner,
    fence: item.fence,
    error,
    notBefore: retry.notBefore,
    max: retry.maxAttempts,
  });
  return row?.state === 'failed' ? 'failed' : 'retry';
}
