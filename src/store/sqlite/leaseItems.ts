// leaseItems: claims pending items whose retry time has come, with a lease and a new fencing token.
import type { Database } from 'better-sqlite3';
import type { LeasedItem } from '../types.js';
import { statement } from './statements.js';

interface Row {
  id: string;
  size: number;
  resume_offset: number;
  tail_malformed: number;
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
         SELECT id FROM items WHERE job = @job AND state = 'pending' AND not_before <= @now LIMIT @limit)
       RETURNING id, size, resume_offset, tail_malformed, fence, attempts`,
  ).all({ job, owner, expires: now + ttlMs, now, limit });
  return rows.map((r) => ({
    id: r.id,
    size: r.size,
    resume: { offset: r.resume_offset, tailMalformed: r.tail_malformed === 1 },
    fence: r.fence,
    attempts: r.attempts,
  }));
}
