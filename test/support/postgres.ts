// A fresh PostgreSQL database per test on the local server (trust auth as user postgres), dropped
// afterwards. An unreachable server fails the test that needs it: it is never skipped.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The maintenance database the test databases are created from. */
export const ADMIN_URL = process.env.SLUICE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  /** Where the store under test connects. */
  url: string;
  /** Runs SQL in the test database, on a connection of the test's own (not the store's). */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
  /** Ends every connection of the store under test, as a server restart or an admin would. */
  dropConnections(): Promise<number>;
  drop(): Promise<void>;
}

async function admin<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `the PostgreSQL store tests need a server at ${ADMIN_URL} (user postgres, trust auth): ${(error as Error).message}. ` +
        'Start it (the CI script does) or point SLUICE_TEST_POSTGRES at one.',
      { cause: error },
    );
  }
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(): Promise<TestDatabase> {
  const name = `sluice_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const own = new pg.Client({ connectionString: url.toString() });
  await own.connect();
  own.on('error', () => {});
  return {
    name,
    url: url.toString(),
    sql: async <R extends pg.QueryResultRow>(text: string, params?: unknown[]) =>
      (await own.query<R>(text, params)).rows,
    dropConnections: async () => {
      const rows = await own.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      return rows.rowCount ?? 0;
    },
    drop: async () => {
      await own.end().catch(() => {});
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
