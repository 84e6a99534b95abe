// Listing order and resumption: every source lists in one byte order, and a listing resumed after
// a stored name yields exactly the rest, without opening the folders before it.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { openAzureSource } from '../src/sources/azure/index.js';
import { uploadFolder } from '../src/sources/azure/upload.js';
import { FileSource } from '../src/sources/file/index.js';
import { compareNames } from '../src/sources/order.js';
import type { Source } from '../src/sources/types.js';
import { type Azurite, connectionStringFor, DEV_ACCOUNT, startAzurite } from './support/azurite.js';
import { startFaultProxy } from './support/fault-proxy.js';

let root: string;
let azurite: Azurite;
// Names chosen so that folder order and name order disagree if a source sorts naively:
// 'a-b' < 'a/' < 'a0' in bytes, and 'é' sorts after ASCII.
const FILES = [
  'a/x/PT1H.json',
  'a-b/PT1H.json',
  'a0/PT1H.json',
  'b/y=2025/m=06/d=01/PT1H.json',
  'b/y=2025/m=06/d=02/PT1H.json',
  'c/é/PT1H.json',
  'c/z/PT1H.json',
];

async function names(source: Source, after?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const item of source.list(after === undefined ? {} : { after })) out.push(item.id);
  return out;
}

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sluice-listing-'));
  for (const f of FILES) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), '{}\n');
  }
  azurite = await startAzurite();
  await uploadFolder(
    root,
    BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('order'),
  );
});
after(async () => {
  await azurite?.stop();
  await rm(root, { recursive: true, force: true });
});

const sorted = [...FILES].sort(compareNames);

for (const kind of ['folder', 'azure'] as const) {
  describe(`${kind} source listing`, () => {
    const open = () =>
      kind === 'folder'
        ? FileSource.open(root)
        : openAzureSource(`azure://${DEV_ACCOUNT}/order`, { connectionString: azurite.connectionString });

    it('lists every name in byte order', async () => {
      assert.deepEqual(await names(await open()), sorted);
    });

    it('resumes after any stored name with exactly the names after it', async () => {
      for (const [i, cursor] of sorted.entries()) {
        assert.deepEqual(await names(await open(), cursor), sorted.slice(i + 1), `after ${cursor}`);
      }
    });

    it('does not open the folders wholly before the cursor', async () => {
      if (kind === 'folder') {
        const full = await open();
        await names(full);
        const resumed = await open();
        await names(resumed, 'c/z/PT1H.json');
        assert.ok(
          resumed.stats.foldersOpened < full.stats.foldersOpened / 2,
          `${resumed.stats.foldersOpened} of ${full.stats.foldersOpened}`,
        );
        return;
      }
      const proxy = await startFaultProxy({ host: '127.0.0.1', port: azurite.port });
      try {
        const source = await openAzureSource(`azure://${DEV_ACCOUNT}/order`, {
          connectionString: connectionStringFor(proxy.endpoint(DEV_ACCOUNT)),
        });
        proxy.resetCounters();
        assert.deepEqual(await names(source, 'c/z/PT1H.json'), ['c/é/PT1H.json']); // é (0xC3) sorts after z
        const prefixes = proxy.counters().listPrefixes;
        assert.ok(prefixes.length > 0);
        assert.ok(
          prefixes.every((p) => p === '' || p.startsWith('c/')),
          `listed: ${JSON.stringify(prefixes)}`,
        );
      } finally {
        await proxy.close();
      }
    });
  });
}

describe('name order', () => {
  it('is UTF-8 byte order, also where UTF-16 order differs (characters past U+FFFF)', () => {
    const names = ['a/😀', 'a/\uff5e', 'a/z', 'a/é', 'a-b', 'a/', 'a0', '\u{10ffff}', '\uffff'];
    const bytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...names].sort(compareNames), bytes);
    // U+FF5E (EF BD 9E) before '😀' (F0 9F 98 80), though its UTF-16 unit 0xFF5E is above 0xD83D.
    assert.ok(compareNames('a/\uff5e', 'a/😀') < 0);
    assert.equal(compareNames('a/z', 'a/z'), 0);
  });
});
