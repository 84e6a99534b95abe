// `sluice analyze azure://...`: blobs listed and read from a real blob service (Azurite), gzip
// included, with --include applied to blob names; credentials never appear in the output.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { type Azurite, DEV_KEY, startAzurite } from './support/azurite.js';
import { sluice } from './support/cli.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/analyze');

describe('sluice analyze on Azure blobs', () => {
  let azurite: Azurite;
  before(async () => {
    azurite = await startAzurite();
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'app-logs',
    );
    await container.create();
    const app = await readFile(path.join(FIXTURES, 'python-app.log'));
    const upload = (name: string, body: Buffer) => container.getBlockBlobClient(name).uploadData(body);
    await upload('2025/03/02/app.log', app);
    await upload('2025/03/02/app-2.log.gz', gzipSync(app));
    await upload('2025/03/02/notes.txt', Buffer.from('not a log\n'));
    await upload('2025/03/03/app.log', app);
  });
  after(async () => {
    await azurite?.stop();
  });

  it('lists blobs under the prefix, keeps those --include matches, and reads plain and gzip blobs', async () => {
    const run = await sluice([
      'analyze',
      'azure://devstoreaccount1/app-logs/2025/03/02/',
      '--include',
      '*.log',
      '--include',
      '*.log.gz',
      '--connection-string',
      azurite.connectionString,
      '--format',
      'json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const a = JSON.parse(run.stdout);
    assert.deepEqual(
      a.files.map((f: { path: string; events: number }) => [f.path, f.events]),
      [
        ['azure://devstoreaccount1/app-logs/2025/03/02/app-2.log.gz', 7],
        ['azure://devstoreaccount1/app-logs/2025/03/02/app.log', 7],
      ],
    );
    assert.equal(a.levels.ERROR, 4);
    assert.equal(
      a.errors.byCategory.find((c: { category: string }) => c.category === 'gpu').examples[0].file,
      a.files[0].path,
    );
    assert.ok(!run.stdout.includes(DEV_KEY) && !run.stderr.includes(DEV_KEY), 'no key in the output');
  });

  it('exits 2 with a message when the container cannot be listed', async () => {
    const run = await sluice([
      'analyze',
      'azure://devstoreaccount1/missing',
      '--connection-string',
      azurite.connectionString,
    ]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /missing/);
    assert.ok(!run.stderr.includes(DEV_KEY));
  });
});
