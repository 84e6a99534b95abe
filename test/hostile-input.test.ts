// Hostile and careless input on the command line: refused with exit 2 and a message that says
// what and where, never echoing a secret, never an "internal error".
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectionStringFor, DEV_KEY } from '../src/emulator/azurite.js';
import { redact } from '../src/sources/azure/redact.js';
import { sluice } from './support/cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-hostile-input-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+|internal error/, text);

describe('passwords in URLs', () => {
  it('redacts the user:password@ of any URL, also a password holding an @', () => {
    assert.equal(
      redact('see https://alice:S3cret@acct.blob.core.windows.net/logs'),
      'see https://<credentials redacted>@acct.blob.core.windows.net/logs',
    );
    assert.equal(
      redact('postgres://bob:p@ss@db:5432/x and more'),
      'postgres://<credentials redacted>@db:5432/x and more',
    );
    assert.equal(
      redact('mailto:a@b.c and https://acct.blob.core.windows.net/x'),
      'mailto:a@b.c and https://acct.blob.core.windows.net/x',
    );
  });

  for (const source of [
    'https://alice:PW-Hunter2@acct1.blob.core.windows.net/logs',
    'http://alice:PW-Hunter2@127.0.0.1:10000/devstoreaccount1/logs',
    'ftp://alice:PW-Hunter2@example.com/logs',
  ]) {
    it(`refuses ${source.split(':')[0]}:// with credentials without printing them back`, async () => {
      const r = await sluice(['ingest', source, '--store', path.join(dir, 's.db'), '--progress', 'none'], {
        cwd: dir,
      });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(!r.stderr.includes('PW-Hunter2'), r.stderr);
      assert.ok(!r.stderr.includes('alice'), r.stderr);
      assert.match(r.stderr, /<credentials redacted>@/);
      noStack(r.stderr);
    });
  }
});

describe('input that used to end in "internal error" (exit 1)', () => {
  for (const [what, include, message] of [
    ['an empty --include', '', /--include.*not an empty one/],
    [
      'a 100,000-character --include',
      'a'.repeat(100_000),
      /--include: expected a glob of at most 4,096 characters, not 100,000/,
    ],
  ] as const) {
    it(`refuses ${what} with exit 2`, async () => {
      const r = await sluice(['ingest', dir, '--store', path.join(dir, 's.db'), '--include', include]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(r.stderr.length < 1000, 'the glob is not printed back whole');
      noStack(r.stderr);
    });
  }

  describe('an endpoint that answers HTTP 400', () => {
    let server: Server;
    let endpoint: string;
    before(async () => {
      server = createServer((_request, response) => {
        response.writeHead(400, {
          'content-type': 'application/xml',
          'x-ms-error-code': 'InvalidQueryParameterValue',
        });
        response.end(
          '<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidQueryParameterValue</Code>' +
            '<Message>Value for one of the query parameters specified in the request URI is invalid.\nRequestId:1</Message></Error>',
        );
      });
      server.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/devstoreaccount1`;
    });
    after(() => new Promise((resolve) => server.close(resolve)));

    it('exits 2 with what the service said, redacted', async () => {
      const r = await sluice([
        'ingest',
        'azure://devstoreaccount1/logs',
        '--connection-string',
        connectionStringFor(endpoint),
        '--store',
        path.join(dir, 's.db'),
        '--progress',
        'none',
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /refused to list azure:\/\/devstoreaccount1\/logs as an invalid request \(400 InvalidQueryParameterValue/,
      );
      assert.match(r.stderr, /query parameters specified in the request URI is invalid/);
      assert.ok(!r.stderr.includes(DEV_KEY), r.stderr);
      noStack(r.stderr);
    });
  });
});
