// The SQLite store file as users meet it: an older release's store is migrated and reads the
// same, a newer one or another program's file is refused untouched, readers write nothing, and
// a full disk stops the run with exit 3 and state saved, the next run finishing the job exactly,
// and a corrupt page stops it with exit 3, no item failed for it.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { compareReports } from '../src/report/compare.js';
import { SCHEMA_VERSION } from '../src/store/sqlite/schema.js';
import { synthesize } from '../src/synth/generate.js';
import { finished, readJson, sluice, start, waitForEvent } from './support/cli.js';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures');

let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-store-files-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function sha(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

describe('store files', () => {
  it('opens a store written by sluice 0.1.0 (schema 1): migrated once, its report unchanged', async () => {
    const store = path.join(dir, 'v1.db');
    await copyFile(path.join(FIXTURES, 'store-v1.db'), store);
    const expected = await readJson(path.join(FIXTURES, 'store-v1.report.json'));
    const r = await sluice(['report', '--store', store, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(compareReports(report, expected), []);
    assert.deepEqual(report.items, expected.items);
    const db = new Database(store, { readonly: true });
    const version = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as {
      value: string;
    };
    // Migrated to indexes of the items that wait, are leased or failed: a done item is in none.
    const indexes = db.prepare(`PRAGMA index_list(items)`).all() as { name: string; partial: number }[];
    db.close();
    assert.equal(Number(version.value), SCHEMA_VERSION);
    assert.deepEqual(
      indexes
        .filter((i) => !i.name.startsWith('sqlite_autoindex'))
        .map((i) => [i.name, i.partial])
        .sort(),
      [
        ['items_failed', 1],
        ['items_leased', 1],
        ['items_pending', 1],
      ],
    );
  });

  it('is created by two processes opening it at the same instant, both of them, every time', async () => {
    // SQLite refuses one of two such opens at once rather than wait (it could deadlock); the open
    // tries again. 40 new stores, each opened by both processes in the same millisecond.
    const rounds = 40;
    const start = Date.now() + 1500;
    const runs = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<string>((resolve, reject) =>
            execFile(
              process.execPath,
              [
                '--import',
                'tsx',
                'test/support/open-stores.ts',
                path.join(dir, 'race'),
                String(rounds),
                String(start),
                '60',
              ],
              (error, stdout) => (error ? reject(error) : resolve(stdout)),
            ),
          ),
      ),
    );
    for (const out of runs) assert.deepEqual(out.trim().split('\n'), Array(rounds).fill('ok'));
  });

  it('refuses a store written by a newer sluice, naming both versions, and leaves it untouched', async () => {
    const store = path.join(dir, 'newer.db');
    await copyFile(path.join(FIXTURES, 'store-v1.db'), store);
    const db = new Database(store);
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'schema_version'`).run(String(SCHEMA_VERSION + 5));
    db.close();
    const before = await sha(store);
    for (const command of [['report'], ['status'], ['ingest', dir]]) {
      const r = await sluice([...command, '--store', store]);
      assert.equal(r.code, 2, `${command[0]}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(
          `newer sluice \\(store schema ${SCHEMA_VERSION + 5}; this sluice knows up to ${SCHEMA_VERSION}\\)`,
        ),
      );
    }
    assert.equal(await sha(store), before);
  });

  it("refuses another program's SQLite file or a file that is not a database, without touching it", async () => {
    const other = path.join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    const text = path.join(dir, 'notes.txt');
    execFileSync('sh', ['-c', `echo 'not a database' > ${text}`]);
    for (const file of [other, text]) {
      const before = await sha(file);
      for (const command of [['report'], ['status'], ['ingest', dir]]) {
        const r = await sluice([...command, '--store', file]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /not a sluice store|not a SQLite database/);
      }
      assert.equal(await sha(file), before, `${file} unchanged`);
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.startsWith(path.basename(file)) && f !== path.basename(file)),
        [],
        'no -wal or -shm file beside it',
      );
    }
  });

  it('reads a store that cannot be written (report and status open it read-only)', async () => {
    const store = path.join(dir, 'immutable.db');
    await copyFile(path.join(FIXTURES, 'store-v1.db'), store);
    assert.equal((await sluice(['status', '--store', store])).code, 0); // migrates while writable
    execFileSync('chattr', ['+i', store]);
    try {
      const r = await sluice(['report', '--store', store, '--format', 'json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { records: number }).records, 404);
      const s = await sluice(['status', '--store', store, '--json']);
      assert.equal(s.code, 0, s.stderr);
    } finally {
      execFileSync('chattr', ['-i', store]);
    }
  });

  it('stops with exit 3 when the store is made read-only mid-run; writable again, the same command finishes exactly', async () => {
    const data = path.join(dir, 'ro-data');
    await synthesize({ dir: data, seed: 12, days: 12, resources: 3, recordsPerHour: 6 });
    const truth = await readJson(path.join(data, 'truth.json'));
    const store = path.join(dir, 'ro.db');
    const args = [
      'ingest',
      data,
      '--store',
      store,
      '--progress',
      'json',
      '--concurrency',
      '2',
      '--threads',
      '0',
    ];
    const child = start(args);
    const done = finished(child);
    await waitForEvent(child, (e) => e.event === 'commit' && Number(e.items) > 0);
    // Immutable even for root: every write to the file or its write-ahead log now fails.
    execFileSync('chattr', ['+i', store, `${store}-wal`]);
    let end: Awaited<typeof done>;
    try {
      end = await done;
    } finally {
      execFileSync('chattr', ['-i', store, `${store}-wal`]);
    }
    assert.equal(end.code, 3, end.stderr);
    assert.match(
      end.stderr,
      /cannot be written|writing .* failed: check that the disk has room and that the file/,
    );
    assert.doesNotMatch(end.stderr, /internal error/);
    const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
      items: { failed: number };
    };
    assert.equal(status.items.failed, 0, 'no item was failed for the store’s fault');
    const again = await sluice(args);
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(
      (await sluice(['report', '--store', store, '--format', 'json'])).stdout,
    ) as Record<string, unknown>;
    assert.deepEqual(compareReports(report, truth), []);
  });

  it('stops with exit 3 on a full disk, charging no item an attempt; moved to a bigger disk it resumes exactly', async () => {
    const data = path.join(dir, 'data');
    await synthesize({ dir: data, seed: 11, days: 10, resources: 2, recordsPerHour: 2 });
    const truth = await readJson(path.join(data, 'truth.json'));
    const small = path.join(dir, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=400k', 'tmpfs', small]);
    const store = path.join(small, 'sluice.db');
    try {
      const r = await sluice(['ingest', data, '--store', store, '--progress', 'none', '--job', 'full']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /is full: free space there/);
      assert.match(r.stderr, /Nothing is lost/);
      assert.doesNotMatch(r.stderr, /internal error/);
      for (const f of await readdir(small)) await copyFile(path.join(small, f), path.join(dir, f));
    } finally {
      execFileSync('umount', [small]);
    }
    const moved = path.join(dir, 'sluice.db');
    const status = JSON.parse((await sluice(['status', '--store', moved, '--json'])).stdout) as {
      items: { failed: number; done: number };
    };
    assert.equal(status.items.failed, 0);
    const again = await sluice(['ingest', data, '--store', moved, '--progress', 'none', '--job', 'full']);
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(
      (await sluice(['report', '--store', moved, '--format', 'json'])).stdout,
    ) as Record<string, unknown>;
    assert.deepEqual(compareReports(report, truth), []);
  });

  it('stops with exit 3 when a commit meets a corrupt page, failing no item and charging no attempt', async () => {
    const data = path.join(dir, 'corrupt-data');
    await synthesize({ dir: data, seed: 13, days: 4, resources: 2, recordsPerHour: 2 });
    const store = path.join(dir, 'corrupt.db');
    const first = await sluice([
      'ingest',
      data,
      '--store',
      store,
      '--progress',
      'none',
      '--to',
      '2024-06-01',
    ]);
    assert.equal(first.code, 0, first.stderr);
    // The page where the job counters start is overwritten with garbage: listing and claiming still
    // work, and the first commit of the next job meets the damage.
    const db = new Database(store);
    const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'counters'").get() as {
      rootpage: number;
    };
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const bytes = await readFile(store);
    bytes.fill(0x5a, pageSize * (rootpage - 1), pageSize * rootpage);
    await writeFile(store, bytes);
    const r = await sluice(['ingest', data, '--store', store, '--progress', 'none', '--from', '2024-06-02']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /committing results: .*SQLITE_CORRUPT.*is damaged: restore it from a copy/);
    assert.doesNotMatch(r.stderr, /internal error/);
    const items = new Database(store, { readonly: true })
      .prepare(
        'SELECT state, sum(attempts) AS attempts, count(*) AS n FROM items WHERE job LIKE ? GROUP BY state',
      )
      .all('%2024-06-02') as { state: string; attempts: number; n: number }[];
    assert.ok(items.length > 0, 'the second job was listed');
    for (const row of items) {
      assert.notEqual(row.state, 'failed', 'no item failed for the store’s fault');
      assert.equal(row.attempts, 0, `${row.n} ${row.state} items were charged an attempt`);
    }
  });
});
