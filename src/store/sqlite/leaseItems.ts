// leaseItems: claims pending items whose retry time has come and leased items whose lease expired
// (their worker died or froze), each with a new lease and a new fencing token.
import type { Database } from 'better-sqlite3';
import type { LeasedItem } from '../types.js';
import { parseJson } from './json.js';
import { statement } from './statements.js';

interface Row {
  id: string;
  size: number;
  payload: string | null;
  checkpoint: string | null;
  fence: number;
  attempts: number;
}

export function leaseItems(
  db: Database,
  job: string,
  owner: string,
  limit: number,
  ttlMs: number,
  now: number,
): LeasedItem[] {
  const rows = statement<{ job: string; owner: string; expires: number; now: number; limit: number }, Row>(
    db,
    `UPDATE items SET state = 'leased', lease_owner = @owner, lease_expires = @expires, fence = fence + 1,
         started_at = @now
       WHERE job = @job AND id IN (
         SELECT id FROM items WHERE job = @job AND state = 'pending' AND not_before <= @now
         UNION ALL
         SELECT id FROM items WHERE job = @job AND state = 'leased' AND lease_expires < @now
         LIMIT @limit)
       RETURNING id, size, payload, checkpoint, fence, attempts`,
  ).all({ job, owner, expires: now + ttlMs, now, limit });
  return rows.map((r) => ({
    id: r.id,
    size: r.size,
    payload: parseJson(r.payload),
    checkpoint: parseJson(r.checkpoint),
    fence: r.fence,
    attempts: r.attempts,
  }));
}
