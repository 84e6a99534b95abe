// Lease upkeep: the heartbeat (a worker says it lives and renews what it holds, learning what it
// lost), giving items back (clean stop), and taking back the items of local workers known dead.
import type { Database } from 'better-sqlite3';
import { statement } from './statements.js';

export function heartbeat(
  db: Database,
  job: string,
  owner: string,
  items: { id: string; fence: number }[],
  ttlMs: number,
  now: number,
): { lost: string[] } {
  const renew = statement(
    db,
    `UPDATE items SET lease_expires = ?
     WHERE job = ? AND id = ? AND state = 'leased' AND lease_owner = ? AND fence = ?`,
  );
  const lost: string[] = [];
  db.transaction(() => {
    statement(
      db,
      `INSERT INTO workers (job, owner, host, started_at, last_seen, ttl_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (job, owner) DO UPDATE SET last_seen = excluded.last_seen, ttl_ms = excluded.ttl_ms, left_at = NULL`,
    ).run(job, owner, owner.split('/')[0] ?? owner, now, now, ttlMs);
    for (const item of items) {
      if (renew.run(now + ttlMs, job, item.id, owner, item.fence).changes !== 1) lost.push(item.id);
    }
    statement(db, 'UPDATE jobs SET lister_expires = ? WHERE name = ? AND lister = ?').run(
      now + ttlMs,
      job,
      owner,
    );
  }).immediate();
  return { lost };
}

export function releaseItems(
  db: Database,
  job: string,
  owner: string,
  items: { id: string; fence: number }[],
): void {
  const release = statement(
    db,
    `UPDATE items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
     WHERE job = ? AND id = ? AND state = 'leased' AND lease_owner = ? AND fence = ?`,
  );
  db.transaction(() => {
    for (const item of items) release.run(job, item.id, owner, item.fence);
  })();
}

export function reclaimDead(
  db: Database,
  job: string,
  isDead: (owner: string) => boolean,
  now: number,
): number {
  // Owners holding items, and workers still counted live (a dead one would keep the listing from
  // being taken until its lease ran out).
  const owners = statement<[string, string], { owner: string }>(
    db,
    `SELECT DISTINCT lease_owner AS owner FROM items WHERE job = ? AND state = 'leased'
     UNION SELECT owner FROM workers WHERE job = ? AND left_at IS NULL`,
  )
    .all(job, job)
    .map((r) => r.owner)
    .filter(isDead);
  if (owners.length === 0) return 0;
  const reclaim = statement(
    db,
    `UPDATE items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
     WHERE job = ? AND state = 'leased' AND lease_owner = ?`,
  );
  let reclaimed = 0;
  db.transaction(() => {
    for (const owner of owners) {
      reclaimed += reclaim.run(job, owner).changes;
      statement(db, 'UPDATE jobs SET lister = NULL, lister_expires = NULL WHERE name = ? AND lister = ?').run(
        job,
        owner,
      );
      statement(db, 'UPDATE workers SET left_at = ? WHERE job = ? AND owner = ? AND left_at IS NULL').run(
        now,
        job,
        owner,
      );
    }
  }).immediate();
  return reclaimed;
}
