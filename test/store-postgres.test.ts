// The PostgreSQL store beyond the shared contract: connecting (what the user is told when the
// server, the user or the database is wrong, never the password), migrating once under many
// workers, read-only openings, and connections dropped under a run.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { UsageError } from '../src/errors.js';
import { PostgresStore } from '../src/store/postgres/index.js';
import { SCHEMA_VERSION } from '../src/store/postgres/migrations.js';
import { StoreError } from '../src/store/types.js';
import { createDatabase, type TestDatabase } from './support/postgres.js';

const PASSWORD = 'hunter2-s3cret';
const JOB = 'j';
const SPEC = { name: JOB, source: 'file:/data', task: 'azure-logs', filters: {} };

/** The URL of `db` with a password in it (trust auth ignores it; messages must never show it). */
function withPassword(url: string, user = 'postgres'): string {
  const u = new URL(url);
  u.username = user;
  u.password = PASSWORD;
  return u.toString();
}

async function openError(url: string, options = {}): Promise<Error> {
  try {
    const store = await PostgresStore.open(url, { connectTimeoutMs: 1_000, ...options });
    await store.close();
  } catch (error) {
    return error as Error;
  }
  assert.fail(`opening ${url} should have failed`);
}

describe('postgres store: connecting', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('prints its location without the password', async () => {
    const store = await PostgresStore.open(withPassword(db.url));
    try {
      assert.equal(store.location, `postgres://postgres@127.0.0.1:5432/${db.name}`);
      await store.openJob(SPEC);
      const err = await store.openJob({ ...SPEC, source: 'file:/other' }).catch((e: Error) => e);
      assert.ok(err instanceof UsageError);
      assert.ok(!err.message.includes(PASSWORD));
    } finally {
      await store.close();
    }
  });

  it('says when the server cannot be reached, with host and port', async () => {
    const err = await openError(withPassword('postgres://127.0.0.1:1/x'));
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /^cannot reach PostgreSQL at 127\.0\.0\.1:1: /);
    assert.ok(!err.message.includes(PASSWORD));
  });

  it('gives up on a server that accepts but never answers, within the connect timeout', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const started = Date.now();
      const err = await openError(withPassword(`postgres://127.0.0.1:${port}/x`), { connectTimeoutMs: 300 });
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}`));
      assert.ok(Date.now() - started < 3_000);
    } finally {
      silent.close();
    }
  });

  it('says authentication failed for the user, without the password', async () => {
    const err = await openError(withPassword(db.url, 'no_such_sluice_user'));
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /authentication failed for user "no_such_sluice_user"/);
    assert.ok(!err.message.includes(PASSWORD));
  });

  it('says the database does not exist and how to create it', async () => {
    const url = new URL(db.url);
    url.pathname = `/${db.name}_missing`;
    const err = await openError(withPassword(url.toString()));
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, new RegExp(`the database "${db.name}_missing" does not exist`));
    assert.match(err.message, /createdb -h 127\.0\.0\.1 -p 5432 -U postgres/);
    assert.ok(!err.message.includes(PASSWORD));
  });
});

describe('postgres store: schema', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('says when the user may not create the store, and what to grant', async () => {
    const role = `${db.name}_reader`;
    await db.sql(`CREATE ROLE ${role} LOGIN`);
    try {
      const url = new URL(db.url);
      url.username = role;
      const err = await openError(url.toString());
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, new RegExp(`GRANT CREATE ON DATABASE "${db.name}" TO "${role}"`));
    } finally {
      await db.sql(`DROP ROLE ${role}`);
    }
  });

  it('is created once when several workers open a new database at the same moment', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(db.url)));
    await Promise.all(stores.map((s) => s.openJob(SPEC)));
    await Promise.all(stores.map((s) => s.close()));
    const rows = await db.sql<{ version: number }>('SELECT version FROM sluice.migrations ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.version),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
  });

  it('keeps to its own schema, so a database that has its own tables of these names is safe', async () => {
    await db.sql('CREATE TABLE public.jobs (id serial PRIMARY KEY, what text)');
    const store = await PostgresStore.open(db.url);
    await store.openJob(SPEC);
    await store.close();
    const theirs = await db.sql('SELECT * FROM public.jobs');
    assert.deepEqual(theirs, []);
  });

  it('refuses a store written by a newer sluice, naming both versions', async () => {
    await (await PostgresStore.open(db.url)).close();
    await db.sql(
      `INSERT INTO sluice.migrations (version, name) VALUES (${SCHEMA_VERSION + 7}, 'from the future')`,
    );
    const err = await openError(db.url);
    assert.ok(err instanceof UsageError, String(err));
    assert.match(
      err.message,
      new RegExp(
        `schema version ${SCHEMA_VERSION + 7}, newer than this sluice knows \\(${SCHEMA_VERSION}\\)`,
      ),
    );
  });

  it('opens read-only without creating anything, and refuses a database with no store', async () => {
    const err = await openError(db.url, { readOnly: true });
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /no sluice store in/);
    const absent = await db.sql(`SELECT to_regclass('sluice.migrations') AS t`);
    assert.equal(absent[0]?.t, null, 'a reader created nothing');
    const notCreated = await openError(db.url, { create: false });
    assert.ok(notCreated instanceof UsageError);
  });

  it('reads through a read-only opening, and a write there is a store error not worth retrying', async () => {
    const writer = await PostgresStore.open(db.url);
    await writer.openJob(SPEC);
    await writer.addItems(JOB, [{ id: 'a', size: 3 }]);
    await writer.close();
    const reader = await PostgresStore.open(db.url, { readOnly: true });
    try {
      assert.equal((await reader.status(JOB)).items.pending, 1);
      const err = await reader.leaseItems(JOB, 'w', 1, 1_000).catch((e: Error) => e);
      assert.ok(err instanceof StoreError, String(err));
      assert.equal(err.retryable, false);
      assert.match(err.message, /read-only transaction.*\[25006\]/);
    } finally {
      await reader.close();
    }
  });
});

describe('postgres store: connections dropped under a run', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);
  before(() => {
    process.on('uncaughtException', onCrash);
  });
  after(() => {
    process.off('uncaughtException', onCrash);
  });
  beforeEach(async () => {
    db = await createDatabase();
    store = await PostgresStore.open(db.url);
    await store.openJob(SPEC);
    await store.addItems(
      JOB,
      Array.from({ length: 200 }, (_, i) => ({ id: `i${String(i).padStart(3, '0')}`, size: 1 })),
    );
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  /** A call that may fail only as a retryable StoreError: true when it went through. */
  async function survives(call: () => Promise<unknown>): Promise<boolean> {
    try {
      await call();
      return true;
    } catch (error) {
      assert.ok(error instanceof StoreError, `not a StoreError: ${String(error)}`);
      assert.equal(error.retryable, true, error.message);
      return false;
    }
  }

  it('between calls: the next call goes through on a new connection, or fails as retryable', async () => {
    await Promise.all([store.status(JOB), store.workLeft(JOB), store.listJobs()]); // several connections open
    assert.ok((await db.dropConnections()) >= 1);
    let through = false;
    for (let attempt = 0; attempt < 5 && !through; attempt++) {
      through = await survives(() => store.leaseItems(JOB, 'w', 10, 60_000));
    }
    assert.ok(through, 'the pool connects again');
    assert.equal((await store.status(JOB)).items.leased, 10);
    assert.deepEqual(crashes, []);
  });

  it('during calls: each one either completes or fails as retryable, and the process lives on', async () => {
    for (const delayMs of [0, 5, 15, 30]) {
      const calls = Array.from({ length: 24 }, (_, i) =>
        survives(async () => {
          const owner = `w${i % 4}`;
          const leased = await store.leaseItems(JOB, owner, 2, 60_000);
          await store.status(JOB);
          await store.commitResults(
            JOB,
            owner,
            leased.map((item) => ({
              items: [
                {
                  id: item.id,
                  fence: item.fence,
                  checkpoint: null,
                  covered: 1,
                  records: 1,
                  bytes: 1,
                  startedAt: 0,
                  finishedAt: 0,
                },
              ],
            })),
          );
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await db.dropConnections();
      await Promise.all(calls);
    }
    const s = await store.status(JOB);
    // Whatever went through counts once: done items and the records they carry agree.
    assert.equal(s.records, s.items.done);
    assert.deepEqual(crashes, []);
  });
});
