// One job across many workers through a PostgreSQL store, as a fleet runs it: three ingest
// processes share an Azure job (Azurite behind a loopback proxy adding 40 ms to every request, so
// the work takes long enough to be interrupted); one is killed with SIGKILL, one is frozen
// (SIGSTOP) past its lease and thawed, a fourth joins to finish. The report read from PostgreSQL
// equals the dataset's truth.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { compareReports } from '../src/report/compare.js';
import { uploadFolder } from '../src/sources/azure/upload.js';
import { synthesize } from '../src/synth/generate.js';
import { type Azurite, connectionStringFor, DEV_ACCOUNT, startAzurite } from './support/azurite.js';
import { finished, readJson, sluice, start, waitForEvent } from './support/cli.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';
import { createDatabase, type TestDatabase } from './support/postgres.js';

let dir: string;
let data: string;
let truth: Record<string, unknown>;
let db: TestDatabase;
let azurite: Azurite;
let proxy: FaultProxy;
let env: Record<string, string>;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-pg-workers-'));
  data = path.join(dir, 'data');
  await synthesize({ dir: data, seed: 41, days: 5, resources: 2, recordsPerHour: 4 });
  truth = await readJson(path.join(data, 'truth.json'));
  azurite = await startAzurite();
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'fleet',
  );
  await uploadFolder(data, container, { include: (id) => id.endsWith('PT1H.json'), concurrency: 16 });
  proxy = await startFaultProxy({ host: '127.0.0.1', port: azurite.port }, { delayMs: 40 });
  env = { AZURE_STORAGE_CONNECTION_STRING: connectionStringFor(proxy.endpoint(DEV_ACCOUNT)) };
  db = await createDatabase();
});
after(async () => {
  await db?.drop();
  await proxy?.close();
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

const ingest = (...extra: string[]) => [
  'ingest',
  `azure://${DEV_ACCOUNT}/fleet`,
  '--store',
  db.url,
  '--job',
  'fleet',
  '--progress',
  'json',
  '--concurrency',
  '2',
  '--threads',
  '0',
  ...extra,
];

describe('a fleet of workers on one PostgreSQL job', () => {
  it('survives a killed worker and a frozen one: a late worker finishes, and the report equals the truth', async () => {
    const killed = start(ingest('--lease-ttl', '6'), { env });
    const frozen = start(ingest('--lease-ttl', '6'), { env });
    const steady = start(ingest('--lease-ttl', '6'), { env });
    // Collected from the start: a process's end is not missed, and its output is whole.
    const [killedDone, frozenDone, steadyRun] = [killed, frozen, steady].map(finished) as [
      ReturnType<typeof finished>,
      ReturnType<typeof finished>,
      ReturnType<typeof finished>,
    ];
    await Promise.all(
      [killed, frozen, steady].map((w) =>
        waitForEvent(w, (e) => e.event === 'commit' && Number(e.items) > 0),
      ),
    );
    killed.kill('SIGKILL');
    frozen.kill('SIGSTOP');
    try {
      const steadyDone = await steadyRun;
      assert.equal(steadyDone.code, 0, steadyDone.stderr);
      // Its summary is the whole job's: every item done, the frozen worker's taken over after its lease.
      assert.match(steadyDone.stderr, /job \\"fleet\\": ([\d,]+)\/\1 items done, 0 failed/);
      const late = await sluice(ingest('--lease-ttl', '6'), { env });
      assert.equal(late.code, 0, late.stderr);
    } finally {
      frozen.kill('SIGCONT');
    }
    const thawed = await frozenDone;
    assert.equal(thawed.code, 0, thawed.stderr);
    // Thawed, it learned that the items it held had been taken over: from its first heartbeat, or
    // from the commit the store refused when that came first.
    assert.match(thawed.stderr, /"event":"lost"/);
    assert.equal((await killedDone).signal, 'SIGKILL');

    const report = await sluice(['report', '--store', db.url, '--job', 'fleet', '--format', 'json']);
    assert.equal(report.code, 0, report.stderr);
    assert.deepEqual(compareReports(JSON.parse(report.stdout) as Record<string, unknown>, truth), []);
    const status = JSON.parse(
      (await sluice(['status', '--store', db.url, '--job', 'fleet', '--json'])).stdout,
    ) as {
      items: { total: number; done: number; leased: number; pending: number };
      workers: { owner: string; done: number; stale: boolean; left: boolean }[];
    };
    assert.equal(status.items.done, status.items.total);
    assert.equal(status.workers.length, 4);
    assert.ok(
      status.workers.filter((w) => !w.left).length <= 1,
      'all but the killed worker left the job; the killed one never said goodbye',
    );
  });

  it('says which at once when the server cannot be reached, the password is wrong or the database is missing', async () => {
    const unreachable = await sluice(['status', '--store', 'postgres://postgres@127.0.0.1:1/x']);
    assert.equal(unreachable.code, 2, unreachable.stderr);
    assert.match(unreachable.stderr, /cannot reach PostgreSQL at 127\.0\.0\.1:1/);
    const missing = await sluice([
      'status',
      '--store',
      'postgres://postgres@127.0.0.1:5432/sluice_no_such_db',
    ]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /does not exist/);
    const secret = 'hunter2-secret';
    const withPassword = await sluice(['status', '--store', `postgres://postgres:${secret}@127.0.0.1:1/x`]);
    assert.equal(withPassword.code, 2);
    assert.doesNotMatch(withPassword.stderr + withPassword.stdout, new RegExp(secret));
  });
});
