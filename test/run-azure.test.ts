// `sluice run` over an Azure container (Azurite, the emulator, on loopback): one item per blob
// "folder", found by delimiter listing, and each item's output uploaded before it counts as done.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { type Azurite, startAzurite } from './support/azurite.js';
import { sluice } from './support/cli.js';

let azurite: Azurite;
let dir: string;
before(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-run-azure-'));
  const images = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'images',
  );
  await images.create();
  for (const name of [
    'batches/b1/x.png',
    'batches/b1/y.png',
    'batches/b2/z.png',
    'batches/b3/deep/w.png',
    'top.txt',
  ]) {
    await images.getBlockBlobClient(name).upload('x', 1);
  }
});
after(async () => {
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function names(container: string): Promise<string[]> {
  const client = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    container,
  );
  const found: string[] = [];
  for await (const blob of client.listBlobsFlat()) found.push(blob.name);
  return found.sort();
}

describe('sluice run over a container', () => {
  it('runs one item per folder at --depth and uploads its output folder to <prefix>/<id>/', async () => {
    const env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
    const args = [
      'run',
      '--items',
      'azure://devstoreaccount1/images/batches/',
      '--depth',
      '1',
      '--upload',
      'azure://devstoreaccount1/results/run1',
      '--jobs',
      '2',
      '--',
      'sh',
      '-c',
      'echo "processed $1" > "$2/result.txt"; echo "$1" >> runs.log',
      'sh',
      '{path}',
      '{out}',
    ];
    const r = await sluice(args, { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await names('results'), [
      'run1/batches/b1/result.txt',
      'run1/batches/b1/stderr',
      'run1/batches/b1/stdout',
      'run1/batches/b2/result.txt',
      'run1/batches/b2/stderr',
      'run1/batches/b2/stdout',
      'run1/batches/b3/result.txt',
      'run1/batches/b3/stderr',
      'run1/batches/b3/stdout',
    ]);
    const result = await BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient('results')
      .getBlobClient('run1/batches/b2/result.txt')
      .downloadToBuffer();
    assert.equal(result.toString(), 'processed batches/b2/\n');
    // Done items are not run (nor uploaded) again.
    const again = await sluice(args, { cwd: dir, env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing new to run/);
  });
});
