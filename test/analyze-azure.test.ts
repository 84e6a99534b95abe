// `sluice analyze azure://...`: blobs listed and read from a real blob service (Azurite), gzip
// included, with --include applied to blob names; credentials never appear in the output.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { type Azurite, DEV_ACCOUNT, DEV_KEY, startAzurite } from './support/azurite.js';
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

  it('--store: the blobs are a resumable job; a blob replaced (a new ETag) is analysed again; a SAS never reaches the store', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'sluice-analyze-azure-job-'));
    try {
      // A read-and-list SAS in an https URL: the job must be named without it.
      const sas = generateBlobSASQueryParameters(
        {
          containerName: 'app-logs',
          permissions: ContainerSASPermissions.parse('rl'),
          expiresOn: new Date(Date.now() + 3_600_000),
        },
        new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
      ).toString();
      // As it is in the URL (percent-encoded) and decoded: neither may be kept.
      const signatures = [
        /sig=([^&]+)/.exec(sas)?.[1] as string,
        new URLSearchParams(sas).get('sig') as string,
      ];
      const address = `${azurite.blobEndpoint}/app-logs/2025/03/03/?${sas}`;
      const args = ['analyze', address, '--store', 'a.db', '--format', 'json'];
      const first = await sluice(args, { cwd, env: { AZURE_STORAGE_CONNECTION_STRING: '' } });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /1 of 1 files analysed \(1 in this run\)/);
      assert.equal(JSON.parse(first.stdout).levels.ERROR, 2);
      const again = await sluice(args, { cwd, env: { AZURE_STORAGE_CONNECTION_STRING: '' } });
      assert.match(again.stderr, /1 of 1 files analysed \(0 in this run\)/);

      // Replaced with twice the content: a new ETag and size; its result replaces the old one.
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
        'app-logs',
      );
      const app = await readFile(path.join(FIXTURES, 'python-app.log'));
      await container.getBlockBlobClient('2025/03/03/app.log').uploadData(Buffer.concat([app, app]));
      const changed = await sluice(args, { cwd, env: { AZURE_STORAGE_CONNECTION_STRING: '' } });
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.stderr, /1 of 1 files analysed \(1 in this run\)/);
      assert.equal(JSON.parse(changed.stdout).levels.ERROR, 4);

      const store = ['a.db', 'a.db-wal']
        .map((f) => {
          try {
            return readFileSync(path.join(cwd, f)).toString('latin1');
          } catch {
            return '';
          }
        })
        .join('');
      assert.ok(store.includes('app-logs/2025/03/03/app.log'), 'the store file holds the job');
      for (const signature of signatures) {
        assert.ok(!store.includes(signature), 'the SAS signature is not in the store');
        assert.ok(
          !`${first.stderr}${again.stderr}${changed.stderr}`.includes(signature),
          'nor in the output',
        );
      }
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
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
