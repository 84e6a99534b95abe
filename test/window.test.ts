// --from/--to windows, and pruning of y=/m=/d=/h= folders: outside folders are never opened.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileSource } from '../src/sources/file/index.js';
import { parseWindow, WindowError } from '../src/sources/window.js';

describe('time window', () => {
  it('includes whole days and hours at the precision given', () => {
    const w = parseWindow('2025-06-01', '2025-06-07');
    assert.equal(w?.from, Date.UTC(2025, 5, 1));
    assert.equal(w?.to, Date.UTC(2025, 5, 8));
    const h = parseWindow('2025-06-01T10', '2025-06-01T12');
    assert.equal(h?.to, Date.UTC(2025, 5, 1, 13));
  });

  it('rejects --from after --to, naming both', () => {
    assert.throws(
      () => parseWindow('2025-06-08', '2025-06-01'),
      (e: Error) => e instanceof WindowError && /--from 2025-06-08 is after --to 2025-06-01/.test(e.message),
    );
  });

  it('rejects dates that are not dates', () => {
    assert.throws(() => parseWindow('June 1st'), /--from "June 1st" is not a date/);
    assert.throws(() => parseWindow(undefined, '2025-02-30'), /not a real date/);
  });
});

describe('folder source', () => {
  let root: string;
  const hours: string[] = [];
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sluice-window-'));
    for (const d of [1, 2, 3, 10, 11]) {
      for (const h of [0, 13, 23]) {
        const dir = path.join(
          root,
          'insights-logs-requestresponse',
          'resourceId=',
          'SUBSCRIPTIONS',
          'S',
          'ACCOUNTS',
          'A',
          'y=2025',
          'm=06',
          `d=${String(d).padStart(2, '0')}`,
          `h=${String(h).padStart(2, '0')}`,
          'm=00',
        );
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, 'PT1H.json'), `{"d":${d},"h":${h}}\n`);
        hours.push(`${d}/${h}`);
      }
    }
    await mkdir(path.join(root, 'y=2024', 'm=12'), { recursive: true });
    await writeFile(path.join(root, 'y=2024', 'm=12', 'PT1H.json'), '\n');
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('lists every file, in a stable sorted order, with sizes', async () => {
    const source = await FileSource.open(root);
    const ids: string[] = [];
    for await (const item of source.list()) {
      ids.push(item.id);
      assert.ok(item.size > 0);
    }
    assert.equal(ids.length, hours.length + 1);
    assert.deepEqual(ids, [...ids].sort());
  });

  it('opens only folders inside the window', async () => {
    const source = await FileSource.open(root);
    const ids: string[] = [];
    for await (const item of source.list({ window: parseWindow('2025-06-02T13', '2025-06-03') }))
      ids.push(item.id);
    assert.equal(ids.length, 5); // 2nd 13h, 23h; 3rd 0h, 13h, 23h
    assert.ok(ids.every((id) => /d=0[23]/.test(id)));
    // Pruned: y=2024, and days 01, 10, 11 without being opened; hour 00 of the 2nd.
    assert.equal(source.stats.foldersPruned, 5);
    const opened = source.stats.foldersOpened;
    const full = await FileSource.open(root);
    for await (const _ of full.list()) {
      // drain
    }
    assert.ok(
      opened < full.stats.foldersOpened / 2,
      `${opened} folders opened for the window, ${full.stats.foldersOpened} in all`,
    );
  });

  it('refuses a missing folder with a usage error naming it', async () => {
    await assert.rejects(FileSource.open(path.join(root, 'nope')), /source folder .*nope does not exist/);
  });
});
