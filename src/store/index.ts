// Opens the store a --store value names: a SQLite file path (default ./sluice.db), or a
// PostgreSQL URL (postgres://user@host:port/db) for a job shared by many machines.
import { isPostgresUrl } from './location.js';
import { SqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

export { isPostgresUrl };

export const DEFAULT_STORE = './sluice.db';

export const STORE_HELP =
  'where state and results live: a SQLite file, or postgres://user@host:port/db for many machines (password from the URL or $PGPASSWORD)';

export interface OpenStoreOptions {
  /** false: the store must exist already (readers). Default true. */
  create?: boolean;
  /** Open for reading only: nothing is written, created or migrated (status, report, query). */
  readOnly?: boolean;
}

export async function openStore(
  location: string = DEFAULT_STORE,
  options: OpenStoreOptions = {},
): Promise<Store> {
  if (isPostgresUrl(location)) {
    // Loaded only when asked for: a SQLite user never pays for the PostgreSQL client.
    const { PostgresStore } = await import('./postgres/index.js');
    return PostgresStore.open(location, options);
  }
  return SqliteStore.open(location, options);
}
