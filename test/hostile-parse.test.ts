// Inputs built to break the parser: lines too long to parse, {"records": [...]} documents too large
// to hold. Each is counted exactly (what is not a record is one malformed line) in bounded memory.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Delta } from '../src/aggregate/delta.js';
import { FileSource } from '../src/sources/file/index.js';
import type { Source } from '../src/sources/types.js';
import { createAzureLogsTask } from '../src/tasks/azure-logs/index.js';
import { BlobParser, parseBlob } from '../src/tasks/azure-logs/parse.js';
import { sluice } from './support/cli.js';
import { azureRecord } from './support/records.js';

const rr = azureRecord;

const counter = (delta: Delta, ...key: (string | null)[]) => delta.counters.get(JSON.stringify(key)) ?? 0;

/** Parses `bytes` fed in pieces of `size` bytes with a line cap. */
function chunked(bytes: Buffer, size: number, maxLineBytes: number) {
  const parser = new BlobParser(undefined, undefined, { maxLineBytes });
  for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
  const r = parser.end();
  return { ...r, records: counter(r.delta, 'records'), malformed: counter(r.delta, 'malformed') };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-hostile-parse-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('lines too long to parse', () => {
  it('counts a line past the cap as one malformed line and the records around it, however the bytes arrive', () => {
    const long = rr({ properties: { modelName: 'x'.repeat(5000) } });
    const body = Buffer.from(`${rr()}\n${long}\n${rr({ resultSignature: '429' })}\n`);
    for (const size of [1, 7, 100, 1000, 4096, body.length]) {
      const r = chunked(body, size, 1000);
      assert.equal(r.records, 2, `pieces of ${size}`);
      assert.equal(r.malformed, 1, `pieces of ${size}`);
      assert.equal(counter(r.delta, 'class', 'rateLimited'), 1);
      assert.deepEqual(r.resume, { offset: body.length, tailMalformed: false });
    }
    // Under a cap it fits, the same line is a record.
    assert.equal(counter(parseBlob(body, undefined, { maxLineBytes: 10_000 }).delta, 'records'), 3);
  });

  it('remembers where an over-long last line starts, so a grown blob reads it again', () => {
    const head = `${rr()}\n`;
    const body = Buffer.from(`${head}${'y'.repeat(5000)}`);
    const r = chunked(body, 512, 1000);
    assert.equal(r.records, 1);
    assert.equal(r.malformed, 1);
    assert.deepEqual(r.resume, { offset: Buffer.byteLength(head), tailMalformed: true });
  });
});

describe('the {"records": [...]} form, streamed', () => {
  const records = [rr(), rr({ resultSignature: '500' }), rr({ operationName: 'a]},"\\"{[' })];

  it('reads records one by one, strings with brackets and escaped quotes included, however the bytes arrive', () => {
    const docs = [
      `{"records":[${records.join(',')}]}`,
      JSON.stringify({ records: records.map((r) => JSON.parse(r)) }, null, 2),
      // one document per line, as some exports write it
      `{"records":[${records[0]}]}\n{"records":[${records[1]},${records[2]}]}\n`,
    ];
    for (const doc of docs) {
      const bytes = Buffer.from(doc);
      for (const size of [1, 3, 64, bytes.length]) {
        const r = chunked(bytes, size, 1 << 20);
        assert.equal(r.records, 3, `${doc.slice(0, 20)} in pieces of ${size}`);
        assert.equal(r.malformed, 0);
        assert.equal(counter(r.delta, 'class', 'serverError'), 1);
        assert.equal(counter(r.delta, 'operation', 'a]},"\\"{[', 'success'), 1);
        assert.deepEqual(r.resume, { offset: bytes.length, tailMalformed: false });
      }
    }
  });

  it('counts an element past the cap, a scalar element and a document cut mid-record as malformed, and every record around them', () => {
    const big = rr({ properties: { modelName: 'z'.repeat(5000) } });
    const doc = Buffer.from(
      `{"records":[${records[0]},${big},42,"text",${records[1]},${(records[2] as string).slice(0, 60)}`,
    );
    for (const size of [1, 50, doc.length]) {
      const r = chunked(doc, size, 1000);
      assert.equal(r.records, 2, `pieces of ${size}`);
      assert.equal(r.malformed, 4, `pieces of ${size}`);
    }
  });

  it('reads an object that only looks like the form at first as an ordinary record', () => {
    const doc = Buffer.from(
      `{"records":[${records[0]}]}\n${rr({ resultSignature: '404' })}\n{"recordsX":1}\njunk\n`,
    );
    const r = chunked(doc, 5, 1 << 20);
    assert.equal(r.records, 3, 'any JSON object is a record, {"recordsX":1} included');
    assert.equal(counter(r.delta, 'class', 'clientError'), 1);
    assert.equal(counter(r.delta, 'class', 'noStatus'), 1);
    assert.equal(r.malformed, 1);
  });
});

/** A source of one blob whose bytes are generated piece by piece: nothing holds the whole blob. */
function generatedSource(pieces: () => Iterable<Buffer>): Source {
  return {
    uri: 'generated:',
    stats: { foldersOpened: 0, itemsListed: 0, foldersPruned: 0 },
    async *list() {},
    async open() {
      return Readable.from(pieces());
    },
    async close() {},
  };
}

/** Parses the source's one blob as a remote blob (streamed bytes, not a local file). */
async function processRemote(source: Source, options: Parameters<typeof createAzureLogsTask>[1]) {
  const task = createAzureLogsTask(source, options);
  try {
    const outcome = await task.run(
      { id: 'PT1H.json', size: 0, payload: null, checkpoint: null, fence: 1, attempts: 0 },
      new AbortController().signal,
    );
    const checkpoint = outcome.checkpoint as { offset: number };
    return { delta: outcome.delta as Delta, bytes: outcome.bytes, resume: checkpoint };
  } finally {
    await task.close();
  }
}

describe('remote blobs (streamed bytes)', () => {
  it('counts a 40 MB line past the cap as malformed and the records after it, without holding the line', async () => {
    const piece = Buffer.alloc(1 << 20, 'x');
    const source = generatedSource(function* () {
      yield Buffer.from(`${rr()}\n`);
      for (let i = 0; i < 40; i++) yield piece;
      yield Buffer.from(`\n${rr({ resultSignature: '429' })}\n`);
    });
    const r = await processRemote(source, { threads: 0, maxLineBytes: 1 << 20 });
    assert.equal(counter(r.delta, 'records'), 2);
    assert.equal(counter(r.delta, 'malformed'), 1);
    assert.equal(r.bytes, 40 * (1 << 20) + 2 * Buffer.byteLength(`${rr()}\n`) + 1);
    assert.equal(r.resume.offset, r.bytes);
  });

  it('streams a {"records": [...]} blob record by record', async () => {
    const n = 20_000;
    const source = generatedSource(function* () {
      yield Buffer.from('{"records":[');
      for (let i = 0; i < n; i++) yield Buffer.from(`${i ? ',' : ''}${rr({ durationMs: i })}`);
      yield Buffer.from(']}');
    });
    const r = await processRemote(source, { threads: 0 });
    assert.equal(counter(r.delta, 'records'), n);
    assert.equal(counter(r.delta, 'malformed'), 0);
  });
});

/** Writes `dir/y=2025/.../PT1H.json` from pieces; returns the folder to ingest. */
async function blob(name: string, pieces: () => Iterable<Buffer | string>): Promise<string> {
  const root = path.join(dir, name);
  const folder = path.join(root, 'y=2025', 'm=06', 'd=09', 'h=14', 'm=00');
  await mkdir(folder, { recursive: true });
  const out = createWriteStream(path.join(folder, 'PT1H.json'));
  for (const piece of pieces()) if (!out.write(piece)) await once(out, 'drain');
  out.end();
  await once(out, 'close');
  return root;
}

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** Ingests `root` through the CLI; returns its report and the peak memory it printed. */
async function ingest(root: string, args: string[] = []) {
  const store = path.join(dir, `${path.basename(root)}.db`);
  const run = await sluice(['ingest', root, '--store', store, '--progress', 'none', ...args]);
  assert.equal(run.code, 0, run.stderr);
  const m = /peak memory: ([\d.]+) (\w+) resident/.exec(run.stderr);
  assert.ok(m, run.stderr);
  const report = await sluice(['report', '--store', store, '--format', 'json']);
  assert.equal(report.code, 0, report.stderr);
  const r = JSON.parse(report.stdout) as { records: number; malformedLines: number };
  return { ...r, peak: Number(m[1]) * (UNITS[m[2] as string] ?? Number.NaN) };
}

describe('bounded memory on hostile blobs (CLI, peak RSS of the child)', () => {
  let baseline = 0;
  before(async () => {
    const root = await blob('normal', function* () {
      for (let i = 0; i < 20_000; i++) yield `${rr({ durationMs: i })}\n`;
    });
    const r = await ingest(root);
    assert.equal(r.records, 20_000);
    baseline = r.peak;
  });

  it('a 40 MB line with --max-line-size 1MB: one malformed line, the records around it counted, memory as usual', async () => {
    const piece = Buffer.alloc(1 << 20, 'x');
    const root = await blob('long-line', function* () {
      yield `${rr()}\n`;
      for (let i = 0; i < 40; i++) yield piece;
      yield `\n${rr()}\n`;
    });
    const r = await ingest(root, ['--max-line-size', '1MB']);
    assert.equal(r.records, 2);
    assert.equal(r.malformedLines, 1);
    assert.ok(r.peak < baseline + 40e6, `peak ${r.peak} against ${baseline} for a small blob`);
  });

  it('a 60 MB one-line {"records": [...]} blob: every record, memory as usual (it is streamed, not held)', async () => {
    let n = 0;
    const root = await blob('wrapper', function* () {
      yield '{"records":[';
      let size = 0;
      while (size < 60e6) {
        const record = `${n ? ',' : ''}${rr({ durationMs: n })}`;
        size += record.length;
        n += 1;
        yield record;
      }
      yield ']}';
    });
    const r = await ingest(root);
    assert.equal(r.records, n);
    assert.equal(r.malformedLines, 0);
    assert.ok(r.peak < baseline + 40e6, `peak ${r.peak} against ${baseline} for a small blob`);
  });

  it('a 600 MB line (longer than any string V8 can make) at the default cap: malformed, never built, the item done', async () => {
    const piece = Buffer.alloc(8 << 20, 'x');
    const root = await blob('huge-line', function* () {
      yield `${rr()}\n`;
      for (let i = 0; i < 75; i++) yield piece;
      yield `\n${rr()}\n`;
    });
    const r = await ingest(root);
    assert.equal(r.records, 2);
    assert.equal(r.malformedLines, 1);
    assert.ok(r.peak < baseline + 40e6, `peak ${r.peak} against ${baseline} for a small blob`);
  });
});

describe('values from the data are bounded', () => {
  it('takes a status only from a whole number or three digits of text; anything else is noStatus under one "other" code', () => {
    const odd = [
      '0x1F4',
      '2e2',
      ' 200',
      '200.0',
      '1000',
      '099',
      'Succeeded',
      'x'.repeat(100_000),
      true,
      200.5,
      {},
    ];
    const lines = [...odd.map((s) => rr({ resultSignature: s })), rr({ resultSignature: 200 }), rr()];
    const r = parseBlob(Buffer.from(`${lines.join('\n')}\n`));
    assert.equal(counter(r.delta, 'records'), odd.length + 2);
    assert.equal(counter(r.delta, 'class', 'noStatus'), odd.length);
    assert.equal(counter(r.delta, 'class', 'serverError'), 0, '0x1F4 is not 500');
    assert.equal(counter(r.delta, 'class', 'success'), 2, '2e2 is not 200');
    const codes = [...r.delta.counters].filter(([key]) => key.startsWith('["code"'));
    assert.deepEqual(Object.fromEntries(codes), { '["code","other"]': odd.length, '["code","200"]': 2 });
  });

  it('cuts long dimension values and folds values past the distinct cap into "(other)", counting every record', () => {
    const lines: string[] = [];
    for (let i = 0; i < 1500; i++)
      lines.push(rr({ properties: { modelName: 'm', modelDeploymentName: `d${i}` } }));
    lines.push(rr({ properties: { modelName: 'M'.repeat(1_000_000) } }));
    const r = parseBlob(Buffer.from(`${lines.join('\n')}\n`));
    assert.equal(counter(r.delta, 'records'), 1501);
    let deployments = 0;
    let deploymentRecords = 0;
    for (const [key, n] of r.delta.counters) {
      if (!key.startsWith('["deployment"')) continue;
      deployments += 1;
      deploymentRecords += n;
    }
    assert.equal(deployments, 1002, '1,000 values, "(other)" and none (the long-model record)');
    assert.equal(deploymentRecords, 1501, 'totals never change');
    assert.equal(counter(r.delta, 'deployment', '(other)', 'success'), 500);
    assert.equal(counter(r.delta, 'folded', 'deployment'), 500);
    const long = [...r.delta.counters.keys()].find((k) => k.includes('MMMM')) as string;
    assert.ok(long.length < 400, `a 1 MB model name is cut: key of ${long.length} chars`);
    assert.match(long, /M{200}…/);
  });

  it('keeps a store of hostile values small and says in the report how many records were folded (CLI)', async () => {
    const root = await blob('unbounded', function* () {
      const properties = { modelDeploymentName: 'dep-0' };
      for (let i = 0; i < 100; i++)
        yield `${rr({ resultSignature: `${i}${'s'.repeat(1 << 20)}`, properties })}\n`;
      for (let i = 0; i < 1200; i++) yield `${rr({ properties: { modelDeploymentName: `dep-${i}` } })}\n`;
    });
    const store = path.join(dir, 'unbounded.db');
    const run = await sluice(['ingest', root, '--store', store, '--progress', 'none', '--threads', '0']);
    assert.equal(run.code, 0, run.stderr);
    const size = (await stat(store)).size + ((await stat(`${store}-wal`).catch(() => null))?.size ?? 0);
    assert.ok(size < 5e6, `store of ${size} bytes for 100 MB of status values`);
    const json = await sluice(['report', '--store', store, '--format', 'json']);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(report.records, 1300);
    assert.deepEqual(report.statusCodes, { '200': 1200, other: 100 });
    assert.deepEqual(report.foldedRecords, { deployment: 200 });
    const text = await sluice(['report', '--store', store]);
    assert.match(
      text.stdout,
      /folded into "\(other\)": 200 records by deployment \(more than 1,000 distinct values/,
    );
  });
});

describe('a stop while the parser threads work', () => {
  it('aborting a parse whose reply is already on its way does not end the process', async () => {
    const folder = path.join(dir, 'abort-race');
    await mkdir(folder, { recursive: true });
    const lines = Array.from({ length: 5000 }, (_, i) => rr({ durationMs: i })).join('\n');
    for (const name of ['a.json', 'b.json']) await writeFile(path.join(folder, name), `${lines}\n`);
    const task = createAzureLogsTask(await FileSource.open(folder), { threads: 1 });
    const item = (id: string) => ({ id, size: 0, payload: null, checkpoint: null, fence: 1, attempts: 0 });
    try {
      await task.run(item('a.json'), new AbortController().signal); // the thread is up
      const stop = new AbortController();
      const parsing = task.run(item('b.json'), stop.signal);
      // The main thread is held while the thread parses and replies; the stop then comes first.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      stop.abort();
      await assert.rejects(parsing, { name: 'AbortError' });
      // The reply arrives for a task no longer there: heard by the pool, not thrown.
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await task.close();
    }
  });
});
