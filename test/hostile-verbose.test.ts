// --verbose against a real Azure Storage emulator, through a proxy that injects faults: one short,
// redacted line per request try, not the SDK's dumps of requests, responses and sockets.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { logLine } from '../src/sources/azure/logging.js';
import { uploadFolder } from '../src/sources/azure/upload.js';
import { synthesize } from '../src/synth/generate.js';
import { type Azurite, connectionStringFor, DEV_ACCOUNT, DEV_KEY, startAzurite } from './support/azurite.js';
import { sluice } from './support/cli.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';

let dir: string;
let azurite: Azurite;
let proxy: FaultProxy;
let blobs = 0;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-verbose-'));
  const data = path.join(dir, 'data');
  const made = await synthesize({ dir: data, seed: 5, days: 1, resources: 1, recordsPerHour: 20 });
  blobs = made.blobs;
  azurite = await startAzurite();
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'logs',
  );
  await uploadFolder(data, container, { include: (id) => id.endsWith('PT1H.json') });
  proxy = await startFaultProxy({ host: '127.0.0.1', port: azurite.port }, { seed: 9 });
});

after(async () => {
  await proxy?.close();
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('--verbose', () => {
  it('renders any SDK log call as one short redacted line, however large its objects', () => {
    const socket = {
      _events: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`e${i}`, 'x'.repeat(1000)])),
    };
    const line = logLine([
      'Request failed: %s',
      'sig=SECRETSIG',
      { request: { socket }, url: 'https://u:pw@a/b?sv=1&sig=S' },
    ]);
    assert.ok(!line.includes('\n'));
    assert.ok(line.length < 500, `${line.length} chars`);
    assert.ok(!/SECRETSIG|pw@/.test(line), line);
  });

  it('writes one short line per request try, redacted, for a whole ingest', async () => {
    proxy.configure({ rate: 0.2, kinds: ['busy503', 'reset'] });
    proxy.resetCounters();
    const r = await sluice([
      'ingest',
      `azure://${DEV_ACCOUNT}/logs`,
      '--connection-string',
      connectionStringFor(proxy.endpoint(DEV_ACCOUNT)),
      '--store',
      path.join(dir, 'v.db'),
      '--progress',
      'none',
      '--verbose',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    const reads = lines.filter((l) => /^azure: reading .*PT1H\.json from \d+: .* in \d+ ms$/.test(l));
    assert.ok(reads.length >= blobs, `${reads.length} read lines for ${blobs} blobs`);
    assert.equal(reads.length, proxy.counters().get, 'one line per GET try');
    assert.ok(
      reads.some((l) => /: 503 ServerBusy: .* \(throttled\) in \d+ ms$/.test(l)),
      'throttled tries are said',
    );
    assert.ok(lines.some((l) => /^azure: listing .*: ok in \d+ ms$/.test(l)));
    for (const line of lines)
      assert.ok(line.length <= 500, `a line of ${line.length} chars: ${line.slice(0, 200)}`);
    assert.ok(r.stderr.length < 400 * (lines.length + 1));
    assert.ok(r.stderr.length < 2000 * blobs, `${r.stderr.length} bytes of log for ${blobs} blobs`);
    assert.ok(!r.stderr.includes(DEV_KEY));
    assert.doesNotMatch(r.stderr, /_events|Socket|ClientRequest/);
  });
});
