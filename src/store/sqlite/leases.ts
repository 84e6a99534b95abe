// Lease upkeep: renew (heartbeat), release (clean shutdown), reclaim (expired or dead owners).
import type { Database } from 'better-sqlite3';
import { statement } from './statements.js';

export function renewLeases(
  db: Database,
  job: string,
  owner: string,
  ids: string[],
  ttlMs: number,
  now: number,
): void {
  const renew = statement(
    db,
    `UPDATE items SET lease_expires = ? WHERE job = ? AND id = ? AND state = 'leased' AND lease_owner = ?`,
  );
  db.transaction(() => {
    for (const id of ids) renew.run(now + ttlMs, job, id, owner);
  })();
}

export function releaseItems(db: Database, job: string, owner: string, ids: string[]): void {
  const release = statement(
    db,
    `UPDATE items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
     WHERE job = ? AND id = ? AND state = 'leased' AND lease_owner = ?`,
  );
  db.transaction(() => {
    for (const id of ids) release.run(job, id, owner);
  })();
}

export function reclaimLeases(
  db: Database,
  job: string,
  now: number,
  isDead: (owner: string) => boolean,
): number {
  const owners = statement<[string], { owner: string }>(
    db,
    `SELECT DISTINCT lease_owner AS owner FROM items WHERE job = ? AND state = 'leased'`,
  )
    .all(job)
    .map((r) => r.owner);
  const reclaim = statement(
    db,
    `UPDATE items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
     WHERE job = ? AND state = 'leased' AND lease_owner = ? AND (? OR lease_expires < ?)`,
  );
  let reclaimed = 0;
  db.transaction(() => {
    for (const owner of owners) reclaimed += reclaim.run(job, owner, isDead(owner) ? 1 : 0, now).changes;
  }).immediate();
  return reclaimed;
}
