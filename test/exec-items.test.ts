// Work items as a specification: CSV (RFC 4180), JSONL and folders, checked whole before a run,
// each row kept as the item's payload, and a listing that resumes after its cursor.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { partitionOf } from '../src/engine/partition.js';
import { UsageError } from '../src/errors.js';
import { openItems } from '../src/sources/items/index.js';
import type { NewItem } from '../src/store/types.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-items-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

async function all(
  list: { list(after: string | undefined, signal: AbortSignal): AsyncIterable<NewItem> },
  after?: string,
) {
  const items: NewItem[] = [];
  for await (const i of list.list(after, new AbortController().signal)) items.push(i);
  return items;
}

describe('CSV', () => {
  test('quoted fields with commas, quotes and newlines, and a BOM, come through whole as payloads', async () => {
    const csv = await file(
      'a.csv',
      '\uFEFFid,name,note\r\n1,"Smith, J","said ""hi""\nthen left"\r\n2,b,\r\n',
    );
    const list = await openItems(csv);
    assert.deepEqual(list.fields, ['id', 'name', 'note']);
    assert.equal(list.count, 2);
    assert.deepEqual(await all(list), [
      { id: '1', size: 0, payload: { id: '1', name: 'Smith, J', note: 'said "hi"\nthen left' } },
      { id: '2', size: 0, payload: { id: '2', name: 'b', note: '' } },
    ]);
  });

  test('--id-column picks the id; without it and no "id" column, the error lists the columns', async () => {
    const csv = await file('w.csv', 'WorkItemId,Owner\n1889211721,ann\n1889211722,bob\n');
    assert.deepEqual(
      (await all(await openItems(csv, { idColumn: 'WorkItemId' }))).map((i) => i.id),
      ['1889211721', '1889211722'],
    );
    await assert.rejects(
      openItems(csv),
      (e: Error) =>
        e instanceof UsageError &&
        /columns are "WorkItemId", "Owner"/.test(e.message) &&
        /--id-column/.test(e.message),
    );
  });

  test('repeated and empty ids are refused with their lines, before anything runs', async () => {
    const csv = await file('d.csv', 'id,x\na,1\nb,2\na,3\n,4\nb,5\n');
    await assert.rejects(openItems(csv), (e: Error) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /1 row has no id \(line 5\)/);
      assert.match(e.message, /2 repeated ids: "a" on lines 2 and 4; "b" on lines 3 and 6/);
      return true;
    });
  });

  test('a malformed row names its line', async () => {
    const csv = await file('bad.csv', 'id,x\n1,a\n2,b,c\n');
    await assert.rejects(openItems(csv), /bad\.csv, line 3: not valid CSV/);
  });

  test('an interrupted listing resumes after the last id it stored, in file order', async () => {
    const csv = await file('order.csv', 'id\nz\na\nm\nb\n');
    assert.deepEqual(
      (await all(await openItems(csv), 'a')).map((i) => i.id),
      ['m', 'b'],
    );
  });

  test('--partition keeps only its own ids; the checks still cover the whole file', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `item-${i}`);
    const csv = await file('p.csv', `id\n${ids.join('\n')}\n`);
    const list = await openItems(csv, { include: (id) => partitionOf(id, 2) === 1 });
    const mine = ids.filter((id) => partitionOf(id, 2) === 1);
    assert.deepEqual(
      (await all(list)).map((i) => i.id),
      mine,
    );
    assert.equal(list.count, mine.length);
    assert.equal(list.total, 50);
  });
});

describe('a listing stopped midway', () => {
  // A stop aborts the listing while it reads: the step it waits for must still settle, or the run
  // would wait for it forever (and Node, with nothing left to run, exits 13).
  for (const [name, text] of [
    ['stop.csv', `id\n${Array.from({ length: 5000 }, (_, i) => i).join('\n')}\n`],
    ['stop.jsonl', Array.from({ length: 5000 }, (_, i) => `{"id": "${i}"}\n`).join('')],
  ] as const) {
    test(`${name.split('.')[1]}: the step in flight settles`, async () => {
      const list = await openItems(await file(name, text));
      const abort = new AbortController();
      const step = list.list(undefined, abort.signal)[Symbol.asyncIterator]().next();
      abort.abort();
      const settled = await Promise.race([
        step.then(
          () => 'settled',
          () => 'settled',
        ),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000)),
      ]);
      assert.equal(settled, 'settled');
    });
  }
});

describe('JSONL', () => {
  test('one object per line; numeric ids become text; blank lines skipped; keys are the fields', async () => {
    const jsonl = await file(
      'a.jsonl',
      '{"id": 1, "deck": "red"}\n\n{"id": "2", "deck": "blue", "extra": [1]}\n',
    );
    const list = await openItems(jsonl);
    assert.deepEqual(list.fields, ['id', 'deck', 'extra']);
    assert.deepEqual(
      (await all(list)).map((i) => [i.id, i.payload]),
      [
        ['1', { id: 1, deck: 'red' }],
        ['2', { id: '2', deck: 'blue', extra: [1] }],
      ],
    );
  });

  test('a line that is not an object names its line', async () => {
    const jsonl = await file('b.jsonl', '{"id": 1}\n[2]\n');
    await assert.rejects(openItems(jsonl), /b\.jsonl, line 2: expected a JSON object/);
  });
});

describe('folders', () => {
  test('every file is an item with its {path}; with --depth, the folders that deep are', async () => {
    const root = path.join(dir, 'tree');
    await mkdir(path.join(root, 'b', 'x'), { recursive: true });
    await mkdir(path.join(root, 'a'), { recursive: true });
    await writeFile(path.join(root, 'a', '1.png'), 'x');
    await writeFile(path.join(root, 'b', 'x', '2.png'), 'yy');
    const files = await all(await openItems(root));
    assert.deepEqual(
      files.map((i) => [i.id, i.size, i.payload]),
      [
        ['a/1.png', 1, { path: path.join(root, 'a', '1.png') }],
        ['b/x/2.png', 2, { path: path.join(root, 'b', 'x', '2.png') }],
      ],
    );
    const folders = await all(await openItems(root, { depth: 1 }));
    assert.deepEqual(
      folders.map((i) => [i.id, i.payload]),
      [
        ['a', { path: path.join(root, 'a') }],
        ['b', { path: path.join(root, 'b') }],
      ],
    );
  });

  test('a missing list is a usage error saying what --items accepts', async () => {
    await assert.rejects(openItems(path.join(dir, 'nope.csv')), /no such file or folder\. Give a CSV file/);
  });
});
