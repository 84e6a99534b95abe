// Opens the store a --store value names: a SQLite file path (default ./sluice.db).
import { UsageError } from '../errors.js';
import { SqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

export const DEFAULT_STORE = './sluice.db';

export function openStore(location: string = DEFAULT_STORE, options: { create?: boolean } = {}): Store {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new UsageError(
      'a PostgreSQL store is not available in this version of sluice; use a SQLite file path with --store',
    );
  }
  return SqliteStore.open(location, options);
}
