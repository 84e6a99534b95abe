// The SQLite schema: items with their state machine, additive aggregates, runs.
export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
`;
