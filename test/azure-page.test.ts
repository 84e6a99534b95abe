// List Blobs pages and ranged reads made by sluice (src/sources/azure/page.ts): the XML reader on
// hand-written answers, and both requests against Azurite, checked against the SDK's own listing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import { parseBlobAddress } from '../src/sources/azure/address.js';
import { closeBlobClients, containerClientFor } from '../src/sources/azure/client.js';
import { resolveAccess } from '../src/sources/azure/credential.js';
import { openAzureSource } from '../src/sources/azure/index.js';
import { parseListPage, unescapeXml } from '../src/sources/azure/page.js';
import { classifyFailure } from '../src/sources/azure/retry.js';
import { type Azurite, connectionStringFor, DEV_ACCOUNT, startAzurite } from './support/azurite.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';

const page = (blobs: string, next = '<NextMarker />') =>
  `\uFEFF<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://a.blob.core.windows.net/" ContainerName="c"><Prefix>p/</Prefix><MaxResults>5000</MaxResults><Blobs>${blobs}</Blobs>${next}</EnumerationResults>`;
const blob = (name: string, size: number, etag: string, attrs = '') =>
  `<Blob><Name${attrs}>${name}</Name><Properties><Creation-Time>Mon, 01 Jun 2025 00:00:00 GMT</Creation-Time><Etag>${etag}</Etag><Content-Length>${size}</Content-Length><Content-Type>application/json</Content-Type></Properties><OrMetadata /></Blob>`;

describe('the list page reader', () => {
  test('reads names, sizes and ETags in the order sent, blobs and folders interleaved', () => {
    const xml = page(
      blob('a/PT1H.json', 120, '0x8DD1') +
        '<BlobPrefix><Name>b/</Name></BlobPrefix>' +
        blob('c.json', 0, '0x8DD3') +
        '<BlobPrefix><Name>d/</Name></BlobPrefix>',
      '<NextMarker>2!96!MDAwMDE5IWQvPT1IL1BUMUguanNvbiE-</NextMarker>',
    );
    assert.deepEqual(parseListPage(xml), {
      entries: [
        { name: 'a/PT1H.json', blob: { size: 120, etag: '0x8DD1' } },
        { name: 'b/' },
        { name: 'c.json', blob: { size: 0, etag: '0x8DD3' } },
        { name: 'd/' },
      ],
      next: '2!96!MDAwMDE5IWQvPT1IL1BUMUguanNvbiE-',
    });
  });

  test('decodes XML escapes and percent-encoded names (Encoded="true")', () => {
    const xml = page(
      blob('x &amp; y &lt;1&gt; &quot;q&quot; &apos;s&apos; &#233;&#x1F600;.json', 5, '&quot;0x1&quot;') +
        blob('bell%07name%0B.json', 6, '0x2', ' Encoded="true"') +
        blob('plain%41.json', 7, '0x3', ' Encoded="false"'),
      '<NextMarker>m&amp;1</NextMarker>',
    );
    const { entries, next } = parseListPage(xml);
    assert.deepEqual(
      entries.map((e) => [e.name, e.blob?.size, e.blob?.etag]),
      [
        ['x & y <1> "q" \'s\' é😀.json', 5, '"0x1"'],
        ['bell\u0007name\u000B.json', 6, '0x2'],
        ['plain%41.json', 7, '0x3'],
      ],
    );
    assert.equal(next, 'm&1');
    assert.equal(unescapeXml('&amp;lt;'), '&lt;', 'decoded once, not twice');
  });

  test('an empty page, and a page without a marker, are the last', () => {
    assert.deepEqual(parseListPage(page('')), { entries: [] });
    assert.deepEqual(
      parseListPage(
        '<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="c"><Blobs /><NextMarker /></EnumerationResults>',
      ),
      { entries: [] },
    );
  });

  test('an answer that is not a blob list, or a blob without a name, is an error, not an empty page', () => {
    assert.throws(() => parseListPage('<html>proxy error</html>'), /not a blob list/);
    assert.throws(() => parseListPage(page('<Blob><Properties /></Blob>')), /has no name/);
  });
});

describe('listing pages from Azurite', () => {
  let azurite: Azurite;
  let proxy: FaultProxy;
  let sdk: ContainerClient;
  // Names a listing must hand back byte for byte: XML specials, spaces, percent signs, non-ASCII.
  const hostile = [
    'a&b.json',
    'less<more>.json',
    'q"uote\'s.json',
    'sp ace/x.json',
    '100%/y.json',
    'é/ü/😀.json',
  ];
  const many = Array.from({ length: 450 }, (_, i) => `bulk/${String(i).padStart(4, '0')}.json`);

  before(async () => {
    azurite = await startAzurite();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: azurite.port }, {});
    sdk = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('pages');
    await sdk.create();
    for (const [i, name] of [...hostile, ...many].entries()) {
      await sdk.getBlockBlobClient(name).upload('x'.repeat(i % 7), i % 7);
    }
  });
  after(async () => {
    closeBlobClients();
    await proxy?.close();
    await azurite?.stop();
  });

  test('a listing gives exactly what the SDK lists: names, sizes and ETags', async () => {
    const expected: [string, number, string | undefined][] = [];
    for await (const b of sdk.listBlobsFlat())
      expected.push([b.name, b.properties.contentLength ?? -1, b.properties.etag]);
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/pages`, {
      connectionString: connectionStringFor(proxy.endpoint(DEV_ACCOUNT)),
      env: {},
    });
    proxy.resetCounters();
    const got: [string, number, string | undefined][] = [];
    for await (const item of source.list()) got.push([item.id, item.size, item.version]);
    assert.deepEqual(got, expected);
    // The first page is small so work can start early; the rest comes in full pages.
    assert.equal(proxy.counters().list, 2);
  });

  test("ranged reads give every blob's bytes by name, hostile names included, from any offset", async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/pages`, {
      connectionString: connectionStringFor(proxy.endpoint(DEV_ACCOUNT)),
      env: {},
    });
    for (const [i, name] of hostile.entries()) {
      const bytes = 'x'.repeat(i % 7);
      const whole = Buffer.concat((await (await source.open(name, 0)).toArray()) as Buffer[]);
      assert.equal(whole.toString(), bytes, name);
      if (bytes.length > 1) {
        const tail = Buffer.concat((await (await source.open(name, 1)).toArray()) as Buffer[]);
        assert.equal(tail.toString(), bytes.slice(1), `${name} from byte 1`);
      }
      // At the end: nothing more to read, not an error.
      const past = Buffer.concat((await (await source.open(name, bytes.length)).toArray()) as Buffer[]);
      assert.equal(past.length, 0, `${name} at its end`);
    }
  });

  test('folders one level down, as the SDK lists them by delimiter', async () => {
    const expected: string[] = [];
    for await (const p of sdk.listBlobsByHierarchy('/'))
      expected.push(p.kind === 'prefix' ? p.name : `blob:${p.name}`);
    const address = parseBlobAddress(`azure://${DEV_ACCOUNT}/pages`);
    const client = await containerClientFor(
      resolveAccess(address, { connectionString: azurite.connectionString, env: {} }),
      'pages',
    );
    const got = (await client.listPage({ delimiter: '/', maxResults: 5000 })).entries.map((e) =>
      e.blob ? `blob:${e.name}` : e.name,
    );
    assert.deepEqual([...got].sort(), [...expected].sort());
    assert.ok(got.includes('100%/') && got.includes('é/') && got.includes('blob:a&b.json'), got.join(' '));
  });

  test('markers page through every name once', async () => {
    const address = parseBlobAddress(`azure://${DEV_ACCOUNT}/pages`);
    const client = await containerClientFor(
      resolveAccess(address, { connectionString: azurite.connectionString, env: {} }),
      'pages',
    );
    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const p = await client.listPage({ prefix: 'bulk/', maxResults: 100, ...(marker ? { marker } : {}) });
      names.push(...p.entries.map((e) => e.name));
      marker = p.next;
      pages++;
    } while (marker);
    assert.deepEqual(names, many);
    assert.equal(pages, 5);
  });

  test("a service error is thrown as the SDK's RestError, status and code intact", async () => {
    const address = parseBlobAddress(`azure://${DEV_ACCOUNT}/no-such-container`);
    const client = await containerClientFor(
      resolveAccess(address, { connectionString: azurite.connectionString, env: {} }),
      'no-such-container',
    );
    const error = await client.listPage({ maxResults: 1 }).then(
      () => assert.fail('listed a missing container'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof RestError, String(error));
    assert.equal(error.statusCode, 404);
    const failure = classifyFailure(error);
    assert.equal(failure.code, 'ContainerNotFound');
    assert.equal(failure.retryable, false);
  });
});
