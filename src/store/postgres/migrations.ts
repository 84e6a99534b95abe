// The schema, as numbered migrations applied in order under an advisory lock, so workers that
// start together migrate once. A store newer than this release is refused, never downgraded.
import type pg from 'pg';
import { UsageError } from '../../errors.js';

/** Ids in byte order (COLLATE "C"), like SQLite and the listings' cursors; bound keys compare as JS strings do. */
const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'jobs, items, aggregates, workers, runs',
    sql: `
CREATE TABLE jobs (
  name text PRIMARY KEY,
  source text NOT NULL,
  task text NOT NULL,
  filters jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  listed_at timestamptz,
  list_cursor text COLLATE "C",
  lister text,
  lister_expires timestamptz
);
CREATE TABLE items (
  job text NOT NULL REFERENCES jobs (name) ON DELETE CASCADE,
  id text COLLATE "C" NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'failed')),
  size bigint NOT NULL,
  version text,
  payload jsonb,
  checkpoint jsonb,
  covered bigint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  not_before timestamptz NOT NULL DEFAULT '-infinity',
  lease_owner text,
  lease_expires timestamptz,
  fence bigint NOT NULL DEFAULT 0,
  records bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  metrics jsonb,
  result jsonb,
  done_by text,
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (job, id)
);
-- Claims walk the claimable items in id order, never the done ones. Only partial indexes beside
-- the primary key: a verb naming its items by id then always finds them by key, even before the
-- table's first ANALYZE (when the planner thinks it empty).
CREATE INDEX items_claimable ON items (job, id) WHERE state IN ('pending', 'leased');
CREATE INDEX items_waiting ON items (job, not_before) WHERE state = 'pending';
CREATE INDEX items_by_lease ON items (job, lease_expires) WHERE state = 'leased';
CREATE TABLE counters (
  job text NOT NULL, key text COLLATE "C" NOT NULL, value bigint NOT NULL,
  PRIMARY KEY (job, key)
);
CREATE TABLE latency_bins (
  job text NOT NULL, scope text COLLATE "C" NOT NULL, bin integer NOT NULL, count bigint NOT NULL,
  PRIMARY KEY (job, scope, bin)
);
CREATE TABLE latency_max (
  job text NOT NULL, scope text COLLATE "C" NOT NULL, max double precision NOT NULL,
  PRIMARY KEY (job, scope)
);
CREATE TABLE bounds (
  job text NOT NULL, name text COLLATE "C" NOT NULL,
  min_key text COLLATE "C" NOT NULL, min_text text NOT NULL,
  max_key text COLLATE "C" NOT NULL, max_text text NOT NULL,
  PRIMARY KEY (job, name)
);
CREATE TABLE workers (
  job text NOT NULL,
  owner text NOT NULL,
  host text NOT NULL,
  pid integer,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  ttl_ms bigint NOT NULL,
  left_at timestamptz,
  done bigint NOT NULL DEFAULT 0,
  records bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (job, owner)
);
CREATE TABLE runs (
  id bigserial PRIMARY KEY,
  job text NOT NULL,
  owner text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  outcome text,
  stats jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_by_job ON runs (job, id);
CREATE TABLE run_events (
  seq bigserial PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  message text NOT NULL
);
CREATE INDEX run_events_by_run ON run_events (run_id, at);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Key of the advisory lock held while migrating (any constant; this one spells "sluice"). */
const MIGRATION_LOCK = 0x736c75696365;

/** The store's schema version, 0 when it has none yet. */
async function currentVersion(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ found: boolean }>(
    `SELECT to_regclass('sluice.migrations') IS NOT NULL AS found`,
  );
  if (!rows[0]?.found) return 0;
  const versions = await client.query<{ version: number }>(
    'SELECT COALESCE(max(version), 0) AS version FROM sluice.migrations',
  );
  return versions.rows[0]?.version ?? 0;
}

function tooNew(version: number, location: string): UsageError {
  return new UsageError(
    `the store at ${location} has schema version ${version}, newer than this sluice knows (${SCHEMA_VERSION}): upgrade sluice to use it`,
  );
}

/**
 * Brings the schema up to date in one transaction (the first of several workers migrates, the
 * others wait and find nothing to do). With `create` false, or read-only, nothing is created:
 * a database without a store is a usage error.
 */
export async function migrate(
  client: pg.PoolClient,
  location: string,
  options: { create: boolean; readOnly: boolean },
): Promise<void> {
  const found = await currentVersion(client);
  if (found > SCHEMA_VERSION) throw tooNew(found, location);
  if (found === 0 && (!options.create || options.readOnly)) {
    throw new UsageError(
      `no sluice store in ${location}: run a job against it first (e.g. \`sluice ingest <source> --store ${location}\`)`,
    );
  }
  if (found === SCHEMA_VERSION) return;
  if (options.readOnly) {
    throw new UsageError(
      `the store at ${location} has schema version ${found}, older than this sluice's (${SCHEMA_VERSION}): run a command that writes to it (ingest, run) once to upgrade it`,
    );
  }
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE SCHEMA IF NOT EXISTS sluice;
       CREATE TABLE IF NOT EXISTS sluice.migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const version = await currentVersion(client);
    if (version > SCHEMA_VERSION) throw tooNew(version, location);
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO sluice.migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
