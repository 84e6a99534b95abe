// addItems: records listed items. New ones become pending; a done item that grew (an append
// blob still being written) goes back to pending and is read again from where it stopped.
import type { Database } from 'better-sqlite3';
import type { ItemRef } from '../../sources/types.js';
import type { AddItemsResult } from '../types.js';
import { statement } from './statements.js';

interface Known {
  state: string;
  read_end: number;
  size: number;
}

export function addItems(db: Database, job: string, items: ItemRef[], cursor?: string): AddItemsResult {
  const find = statement<[string, string], Known>(
    db,
    'SELECT state, read_end, size FROM items WHERE job = ? AND id = ?',
  );
  // New items (all of them, in a new job) cost one statement: the lookup is only for known ones.
  const insert = statement(
    db,
    'INSERT INTO items (job, id, size, version) VALUES (?, ?, ?, ?) ON CONFLICT (job, id) DO NOTHING',
  );
  const grow = statement(
    db,
    `UPDATE items SET state = 'pending', size = ?, version = ?, attempts = 0, not_before = 0, last_error = NULL
     WHERE job = ? AND id = ?`,
  );
  const replaced = statement(
    db,
    `UPDATE items SET size = ?, version = ?, last_error = ? WHERE job = ? AND id = ?`,
  );
  const resize = statement(
    db,
    `UPDATE items SET size = ?, version = ? WHERE job = ? AND id = ? AND state != 'done'`,
  );
  const result: AddItemsResult = { added: 0, grown: 0, replaced: 0, bytesAdded: 0 };
  db.transaction(() => {
    for (const item of items) {
      const version = item.version ?? null;
      if (insert.run(job, item.id, item.size, version).changes === 1) {
        result.added += 1;
        result.bytesAdded += item.size;
        continue;
      }
      // There: the insert just found it, in this same transaction.
      const known = find.get(job, item.id) as Known;
      if (known.state !== 'done') {
        resize.run(item.size, version, job, item.id);
        result.bytesAdded += item.size - known.size;
      } else if (item.size > known.read_end) {
        grow.run(item.size, version, job, item.id);
        result.grown += 1;
        result.bytesAdded += item.size - known.size;
      } else if (item.size < known.read_end && item.size !== known.size) {
        replaced.run(
          item.size,
          version,
          `shrank from ${known.read_end} to ${item.size} bytes after it was counted; not recounted (ingest into a new --job to recount)`,
          job,
          item.id,
        );
        result.replaced += 1;
      }
    }
    if (cursor !== undefined)
      statement(db, 'UPDATE jobs SET list_cursor = ? WHERE name = ?').run(cursor, job);
  })();
  return result;
}
