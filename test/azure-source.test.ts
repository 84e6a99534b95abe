// The Azure blob source against a real Azurite, directly and through a fault-injecting proxy.
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { ItemError, UsageError } from '../src/errors.js';
import { parseBlobAddress } from '../src/sources/azure/address.js';
import { blobServiceClientFor } from '../src/sources/azure/client.js';
import { resolveAccess } from '../src/sources/azure/credential.js';
import {
  type AzureSourceOptions,
  closeBlobClients,
  openAzureSource,
  redact,
  requestStats,
  resetRequestStats,
} from '../src/sources/azure/index.js';
import { backoffMs, DEFAULT_RETRY, retryAfterMs, withRetry } from '../src/sources/azure/retry.js';
import type { ItemRef } from '../src/sources/types.js';
import { parseWindow } from '../src/sources/window.js';
import {
  type Azurite,
  connectionStringFor,
  DEV_ACCOUNT,
  DEV_KEY,
  freePort,
  startAzurite,
} from './support/azurite.js';
import { ALL_FAULTS, type FaultProxy, startFaultProxy } from './support/fault-proxy.js';

const CONTAINER = 'insights-logs-requestresponse';
const RESOURCES = ['OAI-EASTUS', 'OAI-WESTUS'];
const DAYS = ['2025-05-31', '2025-06-01', '2025-06-02', '2025-06-03'];
const HOURS = [0, 13, 23];
const WRONG_KEY = Buffer.alloc(64, 7).toString('base64');

let azurite: Azurite;
let proxy: FaultProxy;
/** Every uploaded blob's bytes, by name. */
const blobs = new Map<string, Buffer>();
const appendBlobs = new Set<string>();

function blobName(resource: string, day: string, hour: number): string {
  const [y, m, d] = day.split('-');
  const h = String(hour).padStart(2, '0');
  return (
    'resourceId=/SUBSCRIPTIONS/1111AAAA-0000-0000-0000-000000000001/RESOURCEGROUPS/RG-ML/PROVIDERS/' +
    `MICROSOFT.COGNITIVESERVICES/ACCOUNTS/${resource}/y=${y}/m=${m}/d=${d}/h=${h}/m=00/PT1H.json`
  );
}

function records(resource: string, day: string, hour: number, count: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const time = `${day}T${String(hour).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00.0000000Z`;
    const status = i % 17 === 0 ? '429' : '200';
    lines.push(
      JSON.stringify({
        time,
        resourceId: `/SUBSCRIPTIONS/1111AAAA/RESOURCEGROUPS/RG-ML/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/${resource}`,
        category: 'RequestResponse',
        operationName: 'ChatCompletions_Create',
        resultSignature: status,
        durationMs: 100 + ((i * 37) % 900),
        properties: { modelName: 'gpt-4o', modelVersion: '2024-11-20', n: i },
      }),
    );
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

const byName = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function readAll(stream: Readable): Promise<Buffer> {
  return Buffer.concat((await stream.toArray()) as Buffer[]);
}

async function listAll(
  source: { list: (o?: { window?: ReturnType<typeof parseWindow> }) => AsyncIterable<ItemRef> },
  window?: ReturnType<typeof parseWindow>,
) {
  const items: ItemRef[] = [];
  for await (const item of source.list({ window })) items.push(item);
  return items;
}

/** A sleep that records what was asked and waits only a little, so backoff is checked without waiting it out. */
function recordingSleep() {
  const asked: number[] = [];
  const sleep = (ms: number, signal?: AbortSignal) => {
    asked.push(ms);
    return DEFAULT_RETRY.sleep(Math.min(ms, 10), signal);
  };
  return { asked, sleep };
}

function viaProxy(extra: AzureSourceOptions = {}): AzureSourceOptions {
  return { connectionString: connectionStringFor(proxy.endpoint(DEV_ACCOUNT)), env: {}, ...extra };
}

before(async () => {
  azurite = await startAzurite();
  proxy = await startFaultProxy(
    { host: '127.0.0.1', port: azurite.port },
    { seed: Number(process.env.FAULT_SEED ?? 20250609) },
  );
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    CONTAINER,
  );
  await container.create();
  for (const resource of RESOURCES) {
    for (const day of DAYS) {
      for (const hour of HOURS) {
        const name = blobName(resource, day, hour);
        // A few large blobs so faults can land mid-body; the rest small like quiet hours.
        const count = hour === 13 ? 2500 : 20 + hour;
        const body =
          resource === 'OAI-WESTUS' && day === '2025-06-03' && hour === 23
            ? Buffer.alloc(0)
            : records(resource, day, hour, count);
        blobs.set(name, body);
        if (resource === 'OAI-WESTUS') {
          // Azure Monitor writes append blobs, several appends per hour; an hour just started may still be empty.
          appendBlobs.add(name);
          const blob = container.getAppendBlobClient(name);
          await blob.create();
          const third = Math.ceil(body.length / 3);
          for (let at = 0; at < body.length; at += third) {
            const part = body.subarray(at, at + third);
            await blob.appendBlock(part, part.length);
          }
        } else {
          await container.getBlockBlobClient(name).upload(body, body.length);
        }
      }
    }
  }
});

after(async () => {
  closeBlobClients();
  await proxy?.close();
  await azurite?.stop();
});

describe('listing', () => {
  test('lists every blob once, with its size and ETag, in name order', async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}`, {
      connectionString: azurite.connectionString,
      env: {},
    });
    const items = await listAll(source);
    assert.deepEqual(
      items.map((i) => i.id),
      [...blobs.keys()].sort(byName),
    );
    for (const item of items) {
      assert.equal(item.size, blobs.get(item.id)?.length, item.id);
      assert.match(item.version ?? '', /0x[0-9A-F]+/i);
    }
    assert.equal(source.stats.itemsListed, blobs.size);
    assert.equal(source.stats.foldersPruned, 0);
  });

  test('without a window the whole container is one flat list request', async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}`, viaProxy());
    proxy.resetCounters();
    assert.equal((await listAll(source)).length, blobs.size);
    assert.equal(proxy.counters().list, 1);
  });

  test('a --from/--to window lists only its folders and prunes the rest unopened', async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}`, viaProxy());
    proxy.resetCounters();
    resetRequestStats();
    const items = await listAll(source, parseWindow('2025-06-02', '2025-06-02'));
    const expected = [...blobs.keys()].filter((n) => n.includes('/y=2025/m=06/d=02/')).sort(byName);
    assert.deepEqual(
      items.map((i) => i.id),
      expected,
    );
    const seen = proxy.counters();
    assert.equal(seen.list, requestStats.listCalls);
    assert.equal(seen.list, source.stats.foldersOpened);
    for (const prefix of seen.listPrefixes) assert.doesNotMatch(prefix, /m=05\/|d=01\/|d=03\//, prefix);
    // Per resource: May, June 1st and June 3rd are skipped without a request.
    assert.equal(source.stats.foldersPruned, RESOURCES.length * 3);
    assert.equal(source.stats.itemsListed, expected.length);
  });

  test('a one-week window of a five-month container opens about one week of folders', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'insights-logs-audit',
    );
    await container.create();
    const names: string[] = [];
    for (let day = Date.UTC(2025, 1, 1); day < Date.UTC(2025, 6, 1); day += 86_400_000) {
      // Two hours a day keep set-up short; pruning works on folders, and there are as many as in a full export.
      for (const hour of [0, 23]) {
        names.push(blobName('OAI-EASTUS', new Date(day).toISOString().slice(0, 10), hour));
      }
    }
    // Empty blobs: only the names matter here.
    for (let i = 0; i < names.length; i += 32) {
      await Promise.all(names.slice(i, i + 32).map((n) => container.getBlockBlobClient(n).upload('', 0)));
    }
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/insights-logs-audit`, viaProxy());
    proxy.resetCounters();
    const items = await listAll(source, parseWindow('2025-06-02', '2025-06-08'));
    assert.equal(items.length, 7 * 2);
    assert.ok(items.every((i) => /m=06\/d=0[2-8]\//.test(i.id)));
    const { list, listPrefixes } = proxy.counters();
    // Nine levels down to the resource, then year, month, and one flat listing per day inside the window.
    assert.ok(list <= 20, `${list} list requests`);
    for (const prefix of listPrefixes) assert.doesNotMatch(prefix, /m=0[2-5]\/|m=06\/d=(01|09|[1-3]\d)\//);
    assert.equal(source.stats.foldersPruned, 4 + 30 - 7);
    console.log('week of five months', JSON.stringify({ blobs: names.length, list, stats: source.stats }));
  });

  test('a window of hours across midnight lists exactly those hours', async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}`, viaProxy());
    const items = await listAll(source, parseWindow('2025-06-01T13', '2025-06-02T00'));
    const expected = [...blobs.keys()]
      .filter((n) => /d=01\/h=(13|23)\/|d=02\/h=00\//.test(n) && n.includes('m=06/'))
      .sort(byName);
    assert.deepEqual(
      items.map((i) => i.id),
      expected,
    );
  });

  test('a prefix narrows the listing to one resource', async () => {
    const prefix = blobName('OAI-EASTUS', '2025-06-01', 0).split('/y=')[0];
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}/${prefix}/`, viaProxy());
    const items = await listAll(source);
    assert.equal(items.length, DAYS.length * HOURS.length);
    assert.ok(items.every((i) => i.id.includes('OAI-EASTUS')));
  });
});

describe('reading', () => {
  test('open(id, start) streams the exact bytes from the offset to the end', async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}`, {
      connectionString: azurite.connectionString,
      env: {},
    });
    for (const resource of RESOURCES) {
      const name = blobName(resource, '2025-06-01', 13);
      const bytes = blobs.get(name) as Buffer;
      for (const start of [0, 1, 12_345, bytes.length - 1, bytes.length]) {
        assert.deepEqual(
          await readAll(await source.open(name, start)),
          bytes.subarray(start),
          `${resource} @${start}`,
        );
      }
    }
    const empty = blobName('OAI-WESTUS', '2025-06-03', 23);
    assert.equal((await readAll(await source.open(empty, 0))).length, 0);
  });

  test('a growing append blob is read on from where the last read ended', async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}`, {
      connectionString: azurite.connectionString,
      env: {},
    });
    const name = `${blobName('OAI-WESTUS', '2025-06-04', 0)}`;
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient(CONTAINER)
      .getAppendBlobClient(name);
    await blob.create();
    const first = Buffer.from('{"a":1}\n{"a":2}\n');
    await blob.appendBlock(first, first.length);
    assert.deepEqual(await readAll(await source.open(name, 0)), first);
    const more = Buffer.from('{"a":3}\n');
    await blob.appendBlock(more, more.length);
    assert.deepEqual(await readAll(await source.open(name, first.length)), more);
    await blob.delete();
  });

  test('a blob that is gone fails that item only, permanently', async () => {
    const source = await openAzureSource(`azure://${DEV_ACCOUNT}/${CONTAINER}`, {
      connectionString: azurite.connectionString,
      env: {},
    });
    await assert.rejects(source.open('no/such/PT1H.json', 0), (e) => e instanceof ItemError && !e.transient);
  });
});

describe('faults', () => {
  test('every byte arrives exactly through 15 % faults of every kind', { timeout: 40_000 }, async () => {
    const { asked, sleep } = recordingSleep();
    const source = await openAzureSource(
      `azure://${DEV_ACCOUNT}/${CONTAINER}`,
      viaProxy({ tryTimeoutMs: 700, retry: { sleep }, pageSize: 7 }),
    );
    proxy.resetCounters();
    resetRequestStats();
    proxy.configure({ rate: 0.15, kinds: ALL_FAULTS, stallMs: 2000 });
    try {
      // Rounds until every kind of fault has landed a few times (the seed makes this repeatable).
      for (let round = 0; round < 12; round++) {
        const window = round % 2 ? parseWindow('2025-06-01', '2025-06-02') : undefined;
        const items = await listAll(source, window);
        assert.equal(items.length, window ? 12 : blobs.size);
        for (const item of items) {
          const start = round === 1 ? Math.floor(item.size / 3) : 0;
          const bytes = await readAll(await source.open(item.id, start));
          assert.ok(bytes.equals((blobs.get(item.id) as Buffer).subarray(start)), `${item.id} differs`);
        }
        const landed = Object.values(proxy.counters().faults).every((n) => n >= 3);
        if (landed && requestStats.resumes >= 2) break;
      }
    } finally {
      proxy.configure({ rate: 0 });
    }
    const { faults, list, get } = proxy.counters();
    for (const kind of ALL_FAULTS)
      assert.ok(faults[kind] >= 3, `only ${faults[kind]} ${kind} faults were injected`);
    const injected = Object.values(faults).reduce((a, b) => a + b, 0);
    // Every injected fault cost one counted retry (resumes included), and no retry went uncounted.
    assert.ok(requestStats.retries >= injected, JSON.stringify({ requestStats, faults }));
    assert.ok(requestStats.throttled >= faults.busy503 + faults.throttle429);
    assert.ok(requestStats.resumes >= 2, 'no download was resumed mid-body');
    assert.equal(asked.length, requestStats.retries);
    console.log('fault run', JSON.stringify({ list, get, faults, requestStats }));
  });

  test('Retry-After from a 429 is waited out in full', async () => {
    const { asked, sleep } = recordingSleep();
    const source = await openAzureSource(
      `azure://${DEV_ACCOUNT}/${CONTAINER}`,
      // No jitter, so a wait of a second or more can only be the server's Retry-After.
      viaProxy({ retry: { sleep, random: () => 0 } }),
    );
    proxy.resetCounters();
    proxy.configure({ rate: 0.3, kinds: ['throttle429'] });
    try {
      for (const name of [...blobs.keys()].slice(0, 12)) await readAll(await source.open(name, 0));
    } finally {
      proxy.configure({ rate: 0 });
    }
    const throttled = proxy.counters().faults.throttle429;
    assert.ok(throttled > 0, 'no 429 was met');
    assert.equal(asked.filter((ms) => ms >= 1000).length, throttled);
  });

  test('a service that keeps failing fails the item transiently after the retry budget', async () => {
    const { asked, sleep } = recordingSleep();
    const source = await openAzureSource(
      `azure://${DEV_ACCOUNT}/${CONTAINER}`,
      viaProxy({ retry: { sleep, maxTries: 4 } }),
    );
    proxy.resetCounters();
    proxy.configure({ rate: 1, kinds: ['busy503'] });
    try {
      const name = [...blobs.keys()][0] as string;
      await assert.rejects(source.open(name, 0), (e) => {
        assert.ok(e instanceof ItemError && e.transient);
        assert.match(e.message, /4 tries.*503 ServerBusy/);
        return true;
      });
    } finally {
      proxy.configure({ rate: 0 });
    }
    assert.equal(proxy.counters().get, 4);
    assert.equal(asked.length, 3);
  });
});

describe('failing fast', () => {
  async function failsFast(uri: string, options: AzureSourceOptions, pattern: RegExp, secret?: string) {
    const started = Date.now();
    await assert.rejects(openAzureSource(uri, options), (e) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(e.message, pattern);
      if (secret) assert.ok(!e.message.includes(secret), e.message);
      assert.doesNotMatch(e.message, /sig=(?!<redacted>)|AccountKey=(?!<redacted>)/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, 'took too long');
  }

  test('a wrong account key', async () => {
    await failsFast(
      `azure://${DEV_ACCOUNT}/${CONTAINER}`,
      { connectionString: connectionStringFor(azurite.blobEndpoint, WRONG_KEY), env: {} },
      /Access denied.*account key.*devstoreaccount1/s,
      WRONG_KEY,
    );
  });

  test('a missing container', async () => {
    await failsFast(
      `azure://${DEV_ACCOUNT}/insights-logs-nosuch`,
      { connectionString: azurite.connectionString, env: {} },
      /Container "insights-logs-nosuch" does not exist/,
    );
  });

  test('an expired SAS', async () => {
    const sas = generateBlobSASQueryParameters(
      {
        containerName: CONTAINER,
        permissions: ContainerSASPermissions.parse('rl'),
        startsOn: new Date(Date.now() - 2 * 86_400_000),
        expiresOn: new Date(Date.now() - 86_400_000),
      },
      new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    ).toString();
    const signature = new URLSearchParams(sas).get('sig') as string;
    await failsFast(`${azurite.blobEndpoint}/${CONTAINER}?${sas}`, { env: {} }, /SAS.*expired/s, signature);
  });

  test('an endpoint where nothing listens', async () => {
    const port = await freePort();
    await failsFast(
      `azure://${DEV_ACCOUNT}/${CONTAINER}`,
      { connectionString: connectionStringFor(`http://127.0.0.1:${port}/${DEV_ACCOUNT}`), env: {} },
      /Cannot reach http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1.*ECONNREFUSED/s,
    );
  });
});

describe('retry rules', () => {
  test('full jitter stays within [0, min(cap, base * 2^n))', () => {
    const options = { baseMs: 200, capMs: 30_000 };
    assert.equal(backoffMs(3, { ...options, random: () => 0 }), 0);
    assert.equal(backoffMs(3, { ...options, random: () => 0.999999 }), 1599);
    assert.equal(backoffMs(20, { ...options, random: () => 0.5 }), 15_000);
  });

  test('Retry-After is read as seconds, as an HTTP date, or from x-ms-retry-after-ms', () => {
    const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n] });
    assert.equal(retryAfterMs(headers({ 'retry-after': '3' })), 3000);
    const now = Date.parse('2025-06-09T14:00:00Z');
    assert.equal(retryAfterMs(headers({ 'retry-after': 'Mon, 09 Jun 2025 14:00:05 GMT' }), now), 5000);
    assert.equal(retryAfterMs(headers({ 'x-ms-retry-after-ms': '250', 'retry-after': '9' })), 250);
    assert.equal(retryAfterMs(headers({})), undefined);
  });

  test('the wait after a throttled try is at least the server asked for', async () => {
    const { asked, sleep } = recordingSleep();
    let tries = 0;
    const throttled = Object.assign(new Error('slow down'), {
      statusCode: 503,
      response: { headers: { get: (n: string) => (n === 'retry-after' ? '2' : undefined) } },
    });
    const result = await withRetry(
      { what: 'test', options: { ...DEFAULT_RETRY, sleep, random: () => 0 } },
      async () => {
        if (++tries < 3) throw throttled;
        return 'ok';
      },
    );
    assert.equal(result, 'ok');
    assert.deepEqual(asked, [2000, 2000]);
  });
});

describe('addresses and credentials', () => {
  test('the accepted forms', () => {
    assert.deepEqual(parseBlobAddress('azure://acct1/insights-logs-audit/resourceId=/SUBSCRIPTIONS/X'), {
      account: 'acct1',
      container: 'insights-logs-audit',
      prefix: 'resourceId=/SUBSCRIPTIONS/X',
      uri: 'azure://acct1/insights-logs-audit/resourceId=/SUBSCRIPTIONS/X',
    });
    const https = parseBlobAddress('https://acct1.blob.core.windows.net/logs/a%20b/c?sv=2024&sig=SECRETSIG');
    assert.equal(https.endpoint, 'https://acct1.blob.core.windows.net');
    assert.equal(https.prefix, 'a b/c');
    assert.equal(https.sas, 'sv=2024&sig=SECRETSIG');
    assert.ok(!https.uri.includes('SECRETSIG'));
    const emulator = parseBlobAddress('http://127.0.0.1:10000/devstoreaccount1/logs');
    assert.equal(emulator.account, 'devstoreaccount1');
    assert.equal(emulator.endpoint, 'http://127.0.0.1:10000/devstoreaccount1');
    assert.equal(emulator.prefix, '');
  });

  test('bad forms say what is wrong and show the accepted forms', () => {
    for (const [source, why] of [
      ['azure://acct1', /No container/],
      ['azure://ACCT/logs', /account "ACCT" is not valid/],
      ['azure://acct1/Bad_Name', /Container "Bad_Name" is not valid/],
      ['https://acct1.blob.core.windows.net/logs?comp=list', /not a SAS/],
      ['s3://bucket/x', /Not a blob address/],
    ] as const) {
      assert.throws(
        () => parseBlobAddress(source),
        (e) =>
          e instanceof UsageError &&
          why.test(e.message) &&
          e.message.includes('azure://<account>/<container>'),
      );
    }
  });

  test('credentials: flag, URL SAS, connection string, SAS token, key, then DefaultAzureCredential', () => {
    const address = parseBlobAddress('azure://devstoreaccount1/logs');
    const cs = connectionStringFor('http://127.0.0.1:10000/devstoreaccount1');
    const env = {
      AZURE_STORAGE_CONNECTION_STRING: cs,
      AZURE_STORAGE_SAS_TOKEN: '?sv=1&sig=T',
      AZURE_STORAGE_KEY: 'K'.repeat(20),
    };
    assert.equal(resolveAccess(address, { connectionString: cs, env }).from, '--connection-string');
    assert.equal(resolveAccess(address, { env }).from, 'AZURE_STORAGE_CONNECTION_STRING');
    assert.equal(resolveAccess(address, { env }).endpoint, 'http://127.0.0.1:10000/devstoreaccount1');
    const sasUrl = parseBlobAddress('https://devstoreaccount1.blob.core.windows.net/logs?sv=1&sig=U');
    assert.equal(resolveAccess(sasUrl, { env }).from, 'the SAS in the URL');
    assert.equal(
      resolveAccess(address, { env: { ...env, AZURE_STORAGE_CONNECTION_STRING: '' } }).sas,
      'sv=1&sig=T',
    );
    assert.equal(resolveAccess(address, { env: { AZURE_STORAGE_KEY: 'K'.repeat(20) } }).kind, 'key');
    const fallback = resolveAccess(address, { env: {} });
    assert.equal(fallback.kind, 'default');
    assert.equal(fallback.endpoint, 'https://devstoreaccount1.blob.core.windows.net');
    assert.throws(
      () => resolveAccess(parseBlobAddress('azure://otheracct/logs'), { env }),
      /for "devstoreaccount1"/,
    );
  });

  test('one client per endpoint and credential, shared by every source', async () => {
    const access = resolveAccess(parseBlobAddress(`azure://${DEV_ACCOUNT}/${CONTAINER}`), {
      connectionString: azurite.connectionString,
    });
    assert.equal(await blobServiceClientFor(access), await blobServiceClientFor({ ...access }));
    assert.notEqual(
      await blobServiceClientFor(access),
      await blobServiceClientFor({ ...access, accountKey: WRONG_KEY }),
    );
  });
});

test('redact removes keys, SAS tokens and signatures from any text', () => {
  const key = Buffer.alloc(64, 3).toString('base64');
  const cases: [string, string][] = [
    [
      `AccountName=a;AccountKey=${key};EndpointSuffix=core.windows.net`,
      'AccountName=a;AccountKey=<redacted>;EndpointSuffix=core.windows.net',
    ],
    [
      'BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2024&sig=abc%2B',
      'BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=<redacted>',
    ],
    [
      'GET https://a.blob.core.windows.net/c/b?sv=2024-01-01&se=2025&sp=rl&sig=abc%3D failed',
      'GET https://a.blob.core.windows.net/c/b?<SAS redacted> failed',
    ],
    ['token sig=xyz&se=1', 'token sig=<redacted>&se=1'],
    ['Authorization: SharedKey acct:abcDEF123+/=', 'Authorization: SharedKey acct:<redacted>'],
    ['Authorization: Bearer eyJ0eXAi.eyJhdWQi.sig', 'Authorization: Bearer <redacted>'],
    ['nothing secret here', 'nothing secret here'],
  ];
  for (const [input, output] of cases) assert.equal(redact(input), output);
});
