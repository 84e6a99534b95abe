// Three `sluice run` workers on one PostgreSQL job, one of them SIGKILLed mid-run: every item ends
// done, and only the items the killed worker held run again, after its lease runs out.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { finished, sluice, start, waitForEvent } from './support/cli.js';
import { createDatabase, type TestDatabase } from './support/postgres.js';

const ITEMS = 60;
let dir: string;
let db: TestDatabase;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-run-pg-'));
  db = await createDatabase();
  await writeFile(
    path.join(dir, 'items.csv'),
    `id,name\n${Array.from({ length: ITEMS }, (_, i) => `w${i},"item, ${i}"`).join('\n')}\n`,
  );
});
after(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('sluice run on many workers', () => {
  it('three workers share one PostgreSQL job; one is killed, its items run again after its lease, all end done', async () => {
    const args = [
      'run',
      '--items',
      'items.csv',
      '--store',
      db.url,
      '--lease-ttl',
      '5',
      '--jobs',
      '2',
      '--progress',
      'json',
      '--',
      'sh',
      '-c',
      'sleep 0.2; echo "$1" >> runs.log',
      'sh',
      '{id}',
    ];
    const workers = [0, 1, 2].map(() => start(args, { cwd: dir }));
    const ends = workers.map(finished);
    const [victim] = workers as [ReturnType<typeof start>];
    await waitForEvent(victim, (e) => e.event === 'commit' && Number(e.items) > 0);
    victim.kill('SIGKILL');
    const [killed, ...others] = await Promise.all(ends);
    assert.equal(killed?.signal, 'SIGKILL');
    for (const other of others) assert.equal(other.code, 0, other.stderr);

    const status = JSON.parse(
      (await sluice(['status', '--store', db.url, '--json'], { cwd: dir })).stdout,
    ) as {
      items: { total: number; done: number; failed: number; leased: number };
    };
    assert.deepEqual(
      [status.items.total, status.items.done, status.items.failed, status.items.leased],
      [ITEMS, ITEMS, 0, 0],
    );
    const runs = (await readFile(path.join(dir, 'runs.log'), 'utf8')).split('\n').filter(Boolean);
    const seen = new Map<string, number>();
    for (const id of runs) seen.set(id, (seen.get(id) ?? 0) + 1);
    assert.equal(seen.size, ITEMS, 'every item ran');
    const twice = [...seen.values()].filter((n) => n > 1).length;
    // Only what the killed worker had in hand (its 2 slots) may have run twice.
    assert.ok(twice <= 2, `${twice} items ran twice`);
  });
});
