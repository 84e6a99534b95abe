// The SQLite schema, as numbered migrations: a store records the version it is at, a newer
// sluice migrates an older store in one transaction, and an older sluice refuses a newer store.
import type { Database } from 'better-sqlite3';

/** Each entry takes the schema from version `index` to `index + 1`. Never edit one that shipped. */
const MIGRATIONS: ((db: Database) => void)[] = [
  // 1: items with their state machine, additive aggregates, runs (sluice 0.1).
  (db) =>
    db.exec(`
CREATE TABLE IF NOT EXISTS jobs (
  name TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  task TEXT NOT NULL,
  filters TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  listed_at INTEGER,
  list_cursor TEXT
);
CREATE TABLE IF NOT EXISTS items (
  job TEXT NOT NULL,
  id TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'failed')),
  size INTEGER NOT NULL,
  version TEXT,
  resume_offset INTEGER NOT NULL DEFAULT 0,
  tail_malformed INTEGER NOT NULL DEFAULT 0,
  read_end INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  not_before INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires INTEGER,
  fence INTEGER NOT NULL DEFAULT 0,
  records INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER,
  finished_at INTEGER,
  PRIMARY KEY (job, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_state ON items (job, state, not_before);
CREATE TABLE IF NOT EXISTS counters (
  job TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL,
  PRIMARY KEY (job, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latency_bins (
  job TEXT NOT NULL, scope TEXT NOT NULL, bin INTEGER NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (job, scope, bin)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latency_max (
  job TEXT NOT NULL, scope TEXT NOT NULL, max REAL NOT NULL,
  PRIMARY KEY (job, scope)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bounds (
  job TEXT NOT NULL, name TEXT NOT NULL,
  min_key TEXT NOT NULL, min_text TEXT NOT NULL, max_key TEXT NOT NULL, max_text TEXT NOT NULL,
  PRIMARY KEY (job, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  owner TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,
  stats TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS run_events (
  run_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_events_by_run ON run_events (run_id, at);
`),
  // 2: generic items (payload, task-defined checkpoint, metrics, result), the workers of a job
  // and who lists it (many processes or machines on one job).
  (db) =>
    db.exec(`
ALTER TABLE items ADD COLUMN payload TEXT;
ALTER TABLE items ADD COLUMN checkpoint TEXT;
ALTER TABLE items ADD COLUMN metrics TEXT;
ALTER TABLE items ADD COLUMN result TEXT;
ALTER TABLE items ADD COLUMN done_by TEXT;
ALTER TABLE items RENAME COLUMN read_end TO covered;
UPDATE items SET checkpoint = json_object('offset', resume_offset, 'tailMalformed',
    json(CASE WHEN tail_malformed THEN 'true' ELSE 'false' END))
  WHERE resume_offset > 0 OR tail_malformed != 0;
DROP INDEX IF EXISTS items_by_state;
ALTER TABLE items DROP COLUMN resume_offset;
ALTER TABLE items DROP COLUMN tail_malformed;
CREATE INDEX items_by_state ON items (job, state, not_before);
CREATE INDEX items_by_lease ON items (job, state, lease_expires);
ALTER TABLE jobs ADD COLUMN lister TEXT;
ALTER TABLE jobs ADD COLUMN lister_expires INTEGER;
CREATE TABLE workers (
  job TEXT NOT NULL,
  owner TEXT NOT NULL,
  host TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  ttl_ms INTEGER NOT NULL,
  left_at INTEGER,
  done INTEGER NOT NULL DEFAULT 0,
  records INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job, owner)
) WITHOUT ROWID;
`),
  // 3: an item is indexed only while it waits, is leased or failed: a done item (most of a job)
  // leaves every index, and each step of an item moves one index entry, not two in each of two
  // indexes. On 10,319 items, adding, leasing and committing them took ~230 ms instead of ~300.
  (db) =>
    db.exec(`
DROP INDEX IF EXISTS items_by_state;
DROP INDEX IF EXISTS items_by_lease;
CREATE INDEX items_pending ON items (job, not_before) WHERE state = 'pending';
CREATE INDEX items_leased ON items (job, lease_expires, lease_owner) WHERE state = 'leased';
CREATE INDEX items_failed ON items (job, id) WHERE state = 'failed';
`),
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The version a store file is at: 0 for an empty file, null for a database that is not a sluice store. */
export function schemaVersion(db: Database): number | null {
  const tables = new Set(
    (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map(
      (t) => t.name,
    ),
  );
  if (tables.size === 0) return 0;
  if (!tables.has('meta') || !tables.has('items') || !tables.has('jobs')) return null;
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as
    | { value: string }
    | undefined;
  const version = Number(row?.value);
  return Number.isInteger(version) && version > 0 ? version : null;
}

/**
 * Brings the store to SCHEMA_VERSION in one transaction. The version is read again under the
 * write lock: of several processes opening a new store at once, one migrates, the others find it done.
 */
export function migrate(db: Database): void {
  db.transaction(() => {
    const from = schemaVersion(db) ?? 0;
    if (from >= SCHEMA_VERSION) return;
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    for (let v = from; v < SCHEMA_VERSION; v++) (MIGRATIONS[v] as (db: Database) => void)(db);
    db.prepare(
      `INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run(String(SCHEMA_VERSION));
  }).immediate();
}
