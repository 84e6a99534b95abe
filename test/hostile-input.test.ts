// Hostile and careless input on the command line: refused with exit 2 and a message that says
// what and where, never echoing a secret, never an "internal error".
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
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
