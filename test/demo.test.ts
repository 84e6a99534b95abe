// `sluice demo` runs the whole job with no set-up, on the folder path and on the Azure path.
import assert from 'node:assert/strict';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sluice } from './support/cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-demo-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('demo', () => {
  it('generates, ingests, reports, checks against truth and says where everything is', async () => {
    const r = await sluice([
      'demo',
      '--size',
      '4MB',
      '--days',
      '3',
      '--dir',
      path.join(dir, 'local'),
      '--progress',
      'none',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /by model and version/);
    assert.match(r.stdout, /check: the report equals the dataset's truth\.json on every contract key/);
    for (const file of ['sluice.db', 'report.txt', 'report.json', 'report.csv'])
      await access(path.join(dir, 'local', file));
    assert.match(r.stdout, /state: .*sluice\.db/);
  });

  it('goes through the Azure path with an emulator it starts itself', async () => {
    const r = await sluice([
      'demo',
      '--azure',
      '--size',
      '4MB',
      '--days',
      '2',
      '--dir',
      path.join(dir, 'azure'),
      '--progress',
      'none',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /started Azurite \(in memory\) at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /source: azure:\/\/devstoreaccount1\/logs/);
    assert.match(r.stdout, /check: the report equals the dataset's truth\.json/);
  });
});
