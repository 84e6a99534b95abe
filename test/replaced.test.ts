// A blob counted once and then replaced (rewritten larger, the same size, or smaller; on Azure,
// re-uploaded or deleted and recreated) is never counted wrong in silence: appending reads on
// exactly, anything else fails the item loudly (exit 1) until --recount counts the job again.
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { compareReports } from '../src/report/compare.js';
import { type Azurite, startAzurite } from './support/azurite.js';
import { sluice } from './support/cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-replaced-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const rec = (sig: string, minute: number, model = 'gpt-4o') =>
  `${JSON.stringify({
    time: `2025-06-09T14:${String(minute).padStart(2, '0')}:00.0000000Z`,
    category: 'RequestResponse',
    resultSignature: sig,
    durationMs: 100,
    properties: { modelName: model, modelVersion: '1' },
  })}\n`;

async function report(store: string): Promise<Record<string, unknown>> {
  const r = await sluice(['report', '--store', store, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** A folder with one hourly blob holding `content`. */
async function folderWith(name: string, content: string): Promise<{ folder: string; blob: string }> {
  const folder = path.join(dir, name);
  const hour = path.join(folder, 'y=2025', 'm=06', 'd=09', 'h=14', 'm=00');
  await mkdir(hour, { recursive: true });
  const blob = path.join(hour, 'PT1H.json');
  await writeFile(blob, content);
  return { folder, blob };
}

/** Ingests `folder` from scratch into a new store: what the counts must be. */
async function scratch(folder: string, name: string): Promise<Record<string, unknown>> {
  const store = path.join(dir, `${name}-scratch.db`);
  assert.equal((await sluice(['ingest', folder, '--store', store])).code, 0);
  return report(store);
}

const original = rec('200', 1) + rec('200', 2) + rec('429', 3);

describe('a blob replaced after it was counted', () => {
  for (const [name, replacement] of [
    ['rewritten larger', rec('500', 1) + rec('500', 2) + rec('500', 3) + rec('200', 4)],
    ['rewritten at the same size', original.replaceAll('"200"', '"201"')],
    ['rewritten smaller', rec('503', 9)],
  ] as const) {
    it(`${name}: the item fails saying so (exit 1), and --recount makes the counts exact`, async () => {
      const { folder, blob } = await folderWith(name.replaceAll(' ', '-'), original);
      const store = path.join(dir, `${name.replaceAll(' ', '-')}.db`);
      assert.equal((await sluice(['ingest', folder, '--store', store])).code, 0);
      assert.equal((await report(store)).records, 3);
      await writeFile(blob, replacement);
      // A new mtime, as any rewrite has (the same-size case would otherwise look untouched).
      const later = new Date(Date.now() + 5000);
      await utimes(blob, later, later);
      const again = await sluice(['ingest', folder, '--store', store]);
      assert.equal(again.code, 1, again.stderr);
      const status = await sluice(['status', '--store', store]);
      assert.match(status.stdout, /replaced after it was counted/);
      assert.match(status.stdout, /--recount/);
      const recount = await sluice(['ingest', folder, '--store', store, '--recount']);
      assert.equal(recount.code, 0, recount.stderr);
      assert.deepEqual(
        compareReports(await report(store), await scratch(folder, name.replaceAll(' ', '-'))),
        [],
      );
    });
  }

  it('appended to: read on from where it stopped, with nothing flagged', async () => {
    const { folder, blob } = await folderWith('appended', original);
    const store = path.join(dir, 'appended.db');
    assert.equal((await sluice(['ingest', folder, '--store', store])).code, 0);
    await appendFile(blob, rec('500', 4));
    const again = await sluice(['ingest', folder, '--store', store]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(compareReports(await report(store), await scratch(folder, 'appended')), []);
  });

  it('touched without a change (a new mtime, the same bytes): read again, counted the same', async () => {
    const { folder, blob } = await folderWith('touched', original);
    const store = path.join(dir, 'touched.db');
    assert.equal((await sluice(['ingest', folder, '--store', store])).code, 0);
    const later = new Date(Date.now() + 5000);
    await utimes(blob, later, later);
    const again = await sluice(['ingest', folder, '--store', store]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await report(store)).records, 3);
  });
});

describe('an Azure blob replaced after it was counted', () => {
  let azurite: Azurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(() => azurite.stop());

  it('re-uploaded as a new block blob, or deleted and recreated as an append blob: flagged, never miscounted', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = service.getContainerClient('replaced');
    await container.create();
    const name = 'y=2025/m=06/d=09/h=14/m=00/PT1H.json';
    const blob = container.getBlockBlobClient(name);
    await blob.upload(original, original.length);
    const store = path.join(dir, 'azure.db');
    const args = ['ingest', 'azure://devstoreaccount1/replaced', '--store', store];
    const env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
    assert.equal((await sluice(args, { env })).code, 0);

    const bigger = rec('500', 1) + rec('500', 2) + rec('500', 3) + rec('200', 4);
    await blob.upload(bigger, bigger.length);
    const reuploaded = await sluice(args, { env });
    assert.equal(reuploaded.code, 1, reuploaded.stderr);
    assert.match((await sluice(['status', '--store', store])).stdout, /replaced after it was counted/);

    await blob.delete();
    const append = container.getAppendBlobClient(name);
    await append.create();
    await append.appendBlock(bigger, bigger.length);
    const recount = await sluice([...args, '--recount'], { env });
    assert.equal(recount.code, 0, recount.stderr);
    const counted = await report(store);
    assert.equal(counted.records, 4);
    assert.deepEqual((counted.statusClasses as Record<string, number>).serverError, 3);

    // Appended to after that: read on exactly.
    await append.appendBlock(rec('429', 5), rec('429', 5).length);
    const grown = await sluice(args, { env });
    assert.equal(grown.code, 0, grown.stderr);
    assert.equal((await report(store)).records, 5);
  });
});
