// `sluice ingest azure://...` end to end against Azurite, through a real loopback proxy that
// injects storage faults: exact totals, retries visible in status, kill -9 and resume, append-blob
// growth, date-pruned listing, and fast clear failures for bad credentials.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { compareReports } from '../src/report/compare.js';
import { uploadFolder } from '../src/sources/azure/upload.js';
import { synthesize } from '../src/synth/generate.js';
import { type Azurite, connectionStringFor, DEV_ACCOUNT, startAzurite } from './support/azurite.js';
import { finished, readJson, sluice, start, waitForEvent } from './support/cli.js';
import { ALL_FAULTS, type FaultProxy, startFaultProxy } from './support/fault-proxy.js';

let dir: string;
let data: string;
let truth: Record<string, unknown>;
let azurite: Azurite;
let proxy: FaultProxy;
let container: ContainerClient;
let viaProxy: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-azure-'));
  data = path.join(dir, 'data');
  await synthesize({ dir: data, seed: 21, days: 3, resources: 2, recordsPerHour: 30 });
  truth = await readJson(path.join(data, 'truth.json'));
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('logs');
  await uploadFolder(data, container, { include: (id) => id.endsWith('PT1H.json') });
  proxy = await startFaultProxy({ host: '127.0.0.1', port: azurite.port }, { seed: 3 });
  viaProxy = connectionStringFor(proxy.endpoint(DEV_ACCOUNT));
});

after(async () => {
  await proxy?.close();
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

const source = `azure://${DEV_ACCOUNT}/logs`;

/** `ingest` of a container through the fault proxy, into `store`, with any extra options. */
const viaProxyArgs = (store: string, container = 'logs', ...extra: string[]) => [
  'ingest',
  `azure://${DEV_ACCOUNT}/${container}`,
  '--store',
  store,
  '--connection-string',
  viaProxy,
  ...extra,
];

async function reportOf(store: string): Promise<Record<string, unknown>> {
  const r = await sluice(['report', '--store', store, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('ingest from Azure Blob Storage', () => {
  it('reports exactly the truth, with the connection string from the environment', async () => {
    const store = path.join(dir, 'plain.db');
    const run = await sluice(['ingest', source, '--store', store], {
      env: { AZURE_STORAGE_CONNECTION_STRING: viaProxy },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(compareReports(await reportOf(store), truth), []);
    assert.doesNotMatch(run.stderr + run.stdout, /Eby8vdM02x|AccountKey=/, 'the key never appears in output');
  });

  it('survives 12 % injected faults of every kind with exact totals, and status shows the retries', async () => {
    proxy.configure({ rate: 0.12, kinds: ALL_FAULTS, stallMs: 1500 });
    proxy.resetCounters();
    try {
      const store = path.join(dir, 'faults.db');
      const run = await sluice(viaProxyArgs(store, 'logs', '--progress', 'json'));
      assert.equal(run.code, 0, run.stderr);
      const injected = Object.values(proxy.counters().faults).reduce((a, b) => a + b, 0);
      assert.ok(injected >= 10, `faults injected: ${injected}`);
      assert.deepEqual(compareReports(await reportOf(store), truth), []);
      const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
        runs: { stats: Record<string, number> }[];
      };
      const stats = status.runs[0]?.stats ?? {};
      assert.ok((stats['http.retries'] ?? 0) > 0, `run stats: ${JSON.stringify(stats)}`);
      assert.ok((stats['http.throttled'] ?? 0) > 0, 'throttling (429/503) is counted');
      const text = await sluice(['status', '--store', store]);
      assert.match(text.stdout, /request retries [1-9]/);
    } finally {
      proxy.configure({ rate: 0 });
    }
  });

  it('kill -9 mid-run, then the same command: exact', async () => {
    proxy.configure({ rate: 0, delayMs: 15 });
    try {
      const store = path.join(dir, 'killed.db');
      const args = viaProxyArgs(store, 'logs', '--progress', 'json');
      const child = start(args);
      const done = finished(child);
      await waitForEvent(child, (e) => e.event === 'commit');
      child.kill('SIGKILL');
      assert.equal((await done).signal, 'SIGKILL');
      const rest = await sluice(args);
      assert.equal(rest.code, 0, rest.stderr);
      assert.deepEqual(compareReports(await reportOf(store), truth), []);
    } finally {
      proxy.configure({ delayMs: 0 });
    }
  });

  it('reads only what was appended to append blobs on the next run, and counts it once', async () => {
    const growing = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'growing',
    );
    await uploadFolder(data, growing, { include: (id) => id.endsWith('PT1H.json') });
    const store = path.join(dir, 'growing.db');
    const args = viaProxyArgs(store, 'growing');
    assert.equal((await sluice(args)).code, 0);
    // Append to a few blobs: one gets a cut line first, finished on a later append.
    const names: string[] = [];
    for await (const b of growing.listBlobsFlat()) if (b.name.includes('requestresponse')) names.push(b.name);
    const rec = (sig: string) =>
      JSON.stringify({
        time: '2024-06-02T10:00:00.0000000Z',
        category: 'RequestResponse',
        resultSignature: sig,
        durationMs: 50,
        properties: { modelName: 'gpt-4o', modelVersion: '2024-08-06' },
      });
    const line = rec('429');
    const appendTo = async (name: string, text: string) =>
      growing.getAppendBlobClient(name).appendBlock(text, Buffer.byteLength(text));
    await appendTo(names[0] as string, `\n${rec('200')}\n${line.slice(0, 30)}`);
    await appendTo(names[1] as string, `\n${rec('503')}\n`);
    assert.equal((await sluice(args)).code, 0);
    await appendTo(names[0] as string, `${line.slice(30)}\n`);
    const third = await sluice(args);
    assert.equal(third.code, 0, third.stderr);
    const incremental = await reportOf(store);
    // The same as a fresh job over the final blobs.
    const fresh = path.join(dir, 'growing-fresh.db');
    assert.equal((await sluice(viaProxyArgs(fresh, 'growing'))).code, 0);
    assert.deepEqual(compareReports(incremental, await reportOf(fresh)), []);
    assert.equal(incremental.records, (truth.records as number) + 3);
  });

  it('lists only the --from/--to window', async () => {
    proxy.resetCounters();
    const store = path.join(dir, 'window.db');
    const run = await sluice(viaProxyArgs(store, 'logs', '--from', '2024-06-02', '--to', '2024-06-02'));
    assert.equal(run.code, 0, run.stderr);
    const counters = proxy.counters();
    const r = await reportOf(store);
    // Blobs on disk for that day: the window's expected item count.
    let expected = 0;
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(path.join(d, e.name));
        else if (e.name === 'PT1H.json' && d.includes('/d=02/')) expected += 1;
      }
    };
    await walk(data);
    assert.equal((r.items as { total: number }).total, expected);
    assert.ok(
      counters.listPrefixes.every((p) => !/\/d=0[13]\//.test(p)),
      'no other day was listed',
    );
    assert.ok(counters.get <= expected + 5, `${counters.get} downloads for ${expected} blobs in the window`);
  });

  it('fails fast with exit 2 and a clear message for a wrong key, without showing the key', async () => {
    const wrongKey = Buffer.alloc(64, 7).toString('base64');
    const t0 = Date.now();
    const r = await sluice([
      'ingest',
      source,
      '--store',
      path.join(dir, 'bad.db'),
      '--connection-string',
      connectionStringFor(proxy.endpoint(DEV_ACCOUNT), wrongKey),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(Date.now() - t0 < 15_000, 'within seconds');
    assert.match(r.stderr, /key|authenticat|authoriz/i);
    assert.doesNotMatch(r.stderr, new RegExp(wrongKey.slice(0, 20)));
    assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/);
  });

  it('fails fast with exit 2 for a missing container', async () => {
    const r = await sluice([
      'ingest',
      `azure://${DEV_ACCOUNT}/no-such-container`,
      '--store',
      path.join(dir, 'missing.db'),
      '--connection-string',
      viaProxy,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no-such-container/);
  });
});

describe('adaptive concurrency against a throttling service', () => {
  it('with --max-concurrency 1000 and 25 % of requests throttled, finishes exact, backs off with reasons, and stays small in memory', async () => {
    proxy.configure({ rate: 0.25, kinds: ['busy503', 'throttle429'], delayMs: 5 });
    try {
      const store = path.join(dir, 'throttled.db');
      const run = await sluice(
        viaProxyArgs(store, 'logs', '--max-concurrency', '1000', '--progress', 'json'),
      );
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(compareReports(await reportOf(store), truth), []);
      const changes = run.stderr.split('\n').filter((l) => l.includes('"event":"concurrency"'));
      assert.ok(
        changes.some((l) => /-> \d+: (503 ServerBusy|429)/.test(l)),
        `a cut for throttling is logged with its reason:\n${changes.slice(0, 5).join('\n')}`,
      );
      const status = JSON.parse((await sluice(['status', '--store', store, '--json'])).stdout) as {
        runs: { stats: Record<string, number> }[];
        events: { message: string }[];
      };
      assert.ok(
        status.events.some((e) => /503 ServerBusy|429/.test(e.message)),
        'status shows the throttling cuts',
      );
      const peak = status.runs[0]?.stats.peakRssBytes ?? Number.POSITIVE_INFINITY;
      assert.ok(peak < 300e6, `peak RSS ${peak} bytes`);
    } finally {
      proxy.configure({ rate: 0, delayMs: 0 });
    }
  });
});
