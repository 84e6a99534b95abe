// addItems: records listed items. New ones become pending with their payload; a done item listed
// with another size or version (an append blob that grew, a file rewritten) becomes pending again,
// its checkpoint kept: the task reads on from there, or finds the old bytes changed and says so.
import type { Database } from 'better-sqlite3';
import type { AddItemsResult, NewItem } from '../types.js';
import { statement } from './statements.js';

interface Known {
  state: string;
  size: number;
  version: string | null;
}

export function addItems(db: Database, job: string, items: NewItem[], cursor?: string): AddItemsResult {
  // New items (all of them, in a new job) cost one statement: the lookup is only for known ones.
  const insert = statement(
    db,
    'INSERT INTO items (job, id, size, version, payload) VALUES (?, ?, ?, ?, ?) ON CONFLICT (job, id) DO NOTHING',
  );
  const find = statement<[string, string], Known>(
    db,
    'SELECT state, size, version FROM items WHERE job = ? AND id = ?',
  );
  const change = statement(
    db,
    `UPDATE items SET state = 'pending', size = ?, version = ?, attempts = 0, not_before = 0, last_error = NULL
     WHERE job = ? AND id = ?`,
  );
  const resize = statement(db, `UPDATE items SET size = ?, version = ? WHERE job = ? AND id = ?`);
  const result: AddItemsResult = { added: 0, changed: 0, bytesAdded: 0 };
  db.transaction(() => {
    for (const item of items) {
      const version = item.version ?? null;
      const payload = item.payload === undefined ? null : JSON.stringify(item.payload);
      if (insert.run(job, item.id, item.size, version, payload).changes === 1) {
        result.added += 1;
        result.bytesAdded += item.size;
        continue;
      }
      // There: the insert just found it, in this same transaction.
      const known = find.get(job, item.id) as Known;
      if (known.size === item.size && known.version === version) continue;
      result.bytesAdded += item.size - known.size;
      if (known.state === 'done') {
        change.run(item.size, version, job, item.id);
        result.changed += 1;
      } else {
        resize.run(item.size, version, job, item.id);
      }
    }
    if (cursor !== undefined)
      statement(db, 'UPDATE jobs SET list_cursor = ? WHERE name = ?').run(cursor, job);
  })();
  return result;
}
