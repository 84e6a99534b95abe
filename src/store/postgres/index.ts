// Placeholder until the PostgreSQL store lands (branch `postgres` replaces this file whole).
import { UsageError } from '../../errors.js';
import type { OpenStoreOptions } from '../index.js';
import type { Store } from '../types.js';

export const PostgresStore = {
  async open(_location: string, _options: OpenStoreOptions): Promise<Store> {
    throw new UsageError(
      'a PostgreSQL store is not available in this build of sluice; use a SQLite file path with --store',
    );
  },
};
