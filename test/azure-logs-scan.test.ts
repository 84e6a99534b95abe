// The native scanner (src/tasks/azure-logs/scan.c) against the parser's own reading (JSON.parse):
// every blob parsed both ways must give the same delta, records, bytes and resume point. The
// scanner is built by `npm run build` (npm test builds first); without it these tests fail, since a
// missing scanner would otherwise pass every comparison unseen.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { synthesize } from '../src/synth/generate.js';
import { M, SCANNER_PATH, STOP_LINE, scanner, TUPLE_INTS } from '../src/tasks/azure-logs/native.js';
import { parseBlob, startsAsWrapper } from '../src/tasks/azure-logs/parse.js';
import { sluice } from './support/cli.js';
import { azureRecord } from './support/records.js';

function sorted<T>(list: [string, T][]): [string, T][] {
  return [...list].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** A parse's whole result, in a form that compares by value. */
function outcome(bytes: Uint8Array, native: boolean) {
  const r = parseBlob(bytes, undefined, { native });
  const d = r.delta.toData();
  return {
    counters: sorted(d.counters),
    latency: sorted(d.latency),
    bounds: sorted(d.bounds),
    resume: r.resume,
    records: r.records,
    bytes: r.bytes,
  };
}

function same(bytes: Uint8Array, what: string): void {
  assert.deepEqual(outcome(bytes, true), outcome(bytes, false), what);
}

/** Lines (with their newlines) the scanner reads itself, and the ones it leaves to JSON.parse. */
function taken(bytes: Uint8Array): { records: number; left: number } {
  const native = scanner as NonNullable<typeof scanner>;
  const table = native.table();
  const meta = new Int32Array(M.size);
  const ids = new Int32Array(1024);
  const latency = new Float64Array(1024);
  const tuples = new Int32Array(1024 * TUPLE_INTS);
  let from = 0;
  let records = 0;
  let left = 0;
  const end = Buffer.from(bytes).lastIndexOf(0x0a) + 1;
  while (from < end) {
    native.scan(table, bytes.subarray(0, end), from, 32 << 20, meta, ids, latency, [], tuples);
    records += meta[M.records] as number;
    from = meta[M.stop] as number;
    if (meta[M.status] === STOP_LINE) {
      left += 1;
      from = Buffer.from(bytes).indexOf(0x0a, from) + 1;
    }
  }
  return { records, left };
}

const record = azureRecord;

/** One line for each thing a record's fields can be, as real exports (and broken ones) write them. */
const EDGE_LINES: string[] = [
  record(),
  record({ resultSignature: 200 }),
  record({ resultSignature: 200.0 }),
  record({ resultSignature: '2e2' }),
  record({ resultSignature: 2e2 }),
  record({ resultSignature: 200.5 }),
  record({ resultSignature: 99 }),
  record({ resultSignature: 600 }),
  record({ resultSignature: -0 }),
  record({ resultSignature: '600' }),
  record({ resultSignature: '099' }),
  record({ resultSignature: ' 200' }),
  record({ resultSignature: '' }),
  record({ resultSignature: null }),
  record({ resultSignature: true }),
  record({ resultSignature: false }),
  record({ resultSignature: [200] }),
  record({ resultSignature: { code: 200 } }),
  record({ resultSignature: 'Success' }),
  record({ resultSignature: 'U200' }).replace('"U200"', '"\\u0032\\u0030\\u0030"'),
  record({ resultSignature: '304', durationMs: 5 }),
  record({ resultSignature: '101', durationMs: 5 }),
  record({ resultSignature: '429', durationMs: 12 }),
  record({ resultSignature: '503', durationMs: 250.75 }),
  record({ resultSignature: '404', durationMs: 0 }),
  record({ durationMs: -0 }),
  record({ durationMs: -3 }),
  record({ durationMs: '17' }),
  record({ durationMs: ' 17 ' }),
  record({ durationMs: '' }),
  record({ durationMs: null }),
  record({ durationMs: true }),
  record({ durationMs: undefined }),
  record({ durationMs: 1.7976931348623157e308 }),
  record({ durationMs: 5e-324 }),
  record({ durationMs: 0.1 }),
  '{"resultSignature":"200","durationMs":123456789.123456789123456789}',
  record({ time: '2025-06-09T14:17:42.123Z' }),
  record({ time: '2025-06-09T14:17:42Z' }),
  record({ time: '2025-06-09T14:17:42.1230000+00:00' }),
  record({ time: '2025-06-09 14:17:42' }),
  record({ time: '' }),
  record({ time: 1749478662 }),
  record({ time: null }),
  record({ time: undefined }),
  record({ time: '2024-01-01T00:00:00.0000000Z' }),
  record({ time: '2026-12-31T23:59:59.9999999Z' }),
  record({ category: 'GatewayLogs', properties: { responseCode: 429 } }),
  record({ category: 'GatewayLogs', properties: { responseCode: '500' } }),
  record({ category: 'GatewayLogs', properties: {} }),
  record({ category: 'GatewayLogs', properties: 'nothing' }),
  record({ category: 'GatewayLogs', properties: undefined, resultSignature: '200' }),
  record({ category: 'GatewayXogs', properties: { responseCode: 429 } }).replace('X', '\\u004c'),
  record({ category: '' }),
  record({ category: 7 }),
  record({ properties: JSON.stringify({ modelName: 'gpt-4o-mini', modelVersion: '2024-07-18' }) }),
  record({ properties: JSON.stringify({ modelName: 'gpt-4o\n"mini"' }) }),
  record({ properties: JSON.stringify({ modelName: 'gpt-é' }) }),
  record({ properties: JSON.stringify(JSON.stringify({ modelName: 'twice' })) }),
  record({ properties: JSON.stringify([1, 2]) }),
  record({ properties: JSON.stringify(null) }),
  record({ properties: '{"modelName": "open' }),
  record({ properties: ' {"modelName":"padded"} ' }),
  record({ properties: '{"modelName":"x"}\t\n' }),
  record({ properties: '{"modelName":"x"}\f' }),
  record({ properties: [{ modelName: 'in an array' }] }),
  record({ properties: null }),
  record({ properties: 3 }),
  record({ properties: { modelName: '' } }),
  record({ properties: { modelName: 4 } }),
  record({ properties: { modelName: 'a\\b' } }),
  record({ properties: { modelName: 'x'.repeat(600) } }),
  record({ properties: { modelName: 'y'.repeat(300) } }),
  record({ properties: { nested: { modelName: 'not this one' }, modelName: 'this one' } }),
  record({ properties: { modelDeploymentName: '部署-中文', modelName: 'gpt-4o' } }),
  record({ resourceId: 'plain' }),
  record({ resourceId: 'ends/with/' }),
  record({ resourceId: '/' }),
  record({ resourceId: '' }),
  record({ resourceId: 12 }),
  record({ resourceId: '/a/b/\u00e9t\u00e9' }),
  record({ operationName: 'a/b\\c' }),
  record({ operationName: ['list'] }),
  record({ records: [record()] }),
  record({ records: 'not an array' }),
  record({ extra: { deep: [[[[{ a: [1, { b: null }] }]]]] } }),
  record({ extra: 'esc \\ " / \b \f \n \r \t \u0001 \u2028 \ud83d\ude00 \udc00' }),
  record({ extra: [1, -1, 0, -0.5, 1e10, 1e-5, 12.5e3] }),
  `{"a":${'['.repeat(80)}${']'.repeat(80)},"time":"2025-06-09T14:17:42.1230000Z","resultSignature":"200"}`,
  '{"time":"2025-06-09T14:17:42.1230000Z","time":"2025-06-10T00:00:00.0000000Z","resultSignature":"500","resultSignature":"200"}',
  '{"properties":{"modelName":"first","modelName":"second"},"properties":{"modelName":"third"}}',
  '{"t\\u0069me":"2025-06-09T14:17:42.1230000Z","resultSignature":"200"}',
  '{"resultSignature":"200","durationMs":01}',
  '{"resultSignature":"200","durationMs":1.}',
  '{"resultSignature":"200","durationMs":.5}',
  '{"resultSignature":"200","durationMs":1e}',
  '{"resultSignature":"200","durationMs":-}',
  '{"resultSignature":"200","durationMs":+1}',
  '{"resultSignature":"200","durationMs":NaN}',
  '{"resultSignature":"200","durationMs":Infinity}',
  '{"resultSignature":"200","durationMs":1e400}',
  '{"resultSignature":"200","durationMs":0x10}',
  '{"resultSignature":"200",}',
  '{"resultSignature":"200" "durationMs":3}',
  '{"resultSignature":\'200\'}',
  '{resultSignature:"200"}',
  '{"resultSignature":"200"}}',
  '{"resultSignature":"200"} x',
  '{"resultSignature":"20\t0"}',
  '{"resultSignature":"\\x41"}',
  '{"resultSignature":"\\u12"}',
  '{"resultSignature":tru}',
  '{"resultSignature":nul}',
  '{"resultSignature":[1,]}',
  '{"resultSignature":[1 2]}',
  '  {"resultSignature":"200"}  ',
  '\t{"resultSignature":"200"}\r',
  '{"resultSignature":"200"}\r',
  '\ufeff{"resultSignature":"200"}',
  '{}',
  '[]',
  '[{"resultSignature":"200"}]',
  '"a string"',
  '42',
  'null',
  '',
  '   ',
  '\r',
  '\t \r',
  '\f',
  '\u00a0',
  'not json at all',
  '{',
  '}',
  '{"records":[{"resultSignature":"200"},{"resultSignature":"429"},3]}',
  '{"records":[],"time":"2025-06-09T14:17:42.1230000Z"}',
];

describe('native scanner', () => {
  it('is built (npm run build compiles src/tasks/azure-logs/scan.c with the C compiler)', () => {
    assert.ok(scanner, `${SCANNER_PATH} did not load: run npm run build on a machine with a C compiler`);
  });

  it('answers as JSON.parse does on each edge line, alone and all in one blob, with LF and CRLF', () => {
    for (const line of EDGE_LINES) {
      same(Buffer.from(`${line}\n`), line);
      same(Buffer.from(`${line}\r\n${line}\n${line}`), `${line} (three times, the last unended)`);
    }
    same(Buffer.from(`${EDGE_LINES.join('\n')}\n`), 'all edge lines');
    same(Buffer.from(`${EDGE_LINES.join('\r\n')}\r\n`), 'all edge lines, CRLF');
  });

  it('reads the plain lines itself and leaves each doubtful one to JSON.parse', () => {
    // A scanner that left every line to JSON.parse would pass the comparisons above.
    const plain = [
      record(),
      record({ resultSignature: 429, durationMs: 3.5 }),
      record({ properties: '{"modelName":"m"}' }),
    ];
    assert.deepEqual(taken(Buffer.from(`${plain.join('\n')}\n\n  \n`)), { records: 3, left: 0 });
    const doubtful = [
      record({ resultSignature: 'U200' }).replace('"U200"', '"\\u0032\\u0030\\u0030"'),
      record({ time: '2025-06-09T14:17:42Z' }),
      record({ durationMs: '17' }),
      record({ records: [] }),
      '{"resultSignature":"200",}',
      '\ufeff{"resultSignature":"200"}',
    ];
    for (const line of doubtful)
      assert.deepEqual(taken(Buffer.from(`${line}\n`)), { records: 0, left: 1 }, line);
  });

  it('decodes values past ASCII as UTF-8 would, broken sequences included', () => {
    const base = Buffer.from(record({ properties: { modelName: 'MODEL' } }));
    const at = base.indexOf('MODEL');
    for (const bytes of [
      [0xe4, 0xb8, 0xad], // 中
      [0xc3, 0xa9], // é
      [0xe4, 0xb8], // cut short
      [0xff, 0xfe],
      [0xc0, 0xaf], // overlong /
      [0xed, 0xa0, 0x80], // a surrogate
      [0xf0, 0x9f, 0x98, 0x80], // 😀
      [0x80],
    ]) {
      const line = Buffer.concat([
        base.subarray(0, at),
        Buffer.from(bytes),
        base.subarray(at + 5),
        Buffer.from('\n'),
      ]);
      same(line, `model bytes ${bytes.map((b) => b.toString(16)).join(' ')}`);
      // With a \u escape elsewhere on the line, the parser decodes the whole line first.
      const escaped = Buffer.concat([line.subarray(0, 1), Buffer.from('"x":"\\u00e9",'), line.subarray(1)]);
      same(escaped, `model bytes ${bytes.map((b) => b.toString(16)).join(' ')}, \\u elsewhere`);
    }
  });

  it('answers as JSON.parse does on lines mutated at random', () => {
    // An LCG whose high bits pick: mutations insert, delete or replace bytes, preferring JSON's own.
    let state = 0x2545f491;
    const next = (n: number) => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return Math.floor((state / 2 ** 32) * n);
    };
    const alphabet = Buffer.from('{}[]:,"\\ \t\r0123456789.-+eE/ut:nfalsr\u00e9');
    const bases = EDGE_LINES.slice(0, 40).map((l) => Buffer.from(l));
    const lines: Buffer[] = [];
    for (let i = 0; i < 6000; i += 1) {
      const line = Buffer.from(bases[next(bases.length)] as Buffer);
      const edits = 1 + next(3);
      let out: number[] = [...line];
      for (let e = 0; e < edits; e += 1) {
        const at = next(out.length + 1);
        const byte = next(8) === 0 ? 0x80 + next(128) : (alphabet[next(alphabet.length)] as number);
        const kind = next(3);
        if (kind === 0) out.splice(at, 0, byte);
        else if (kind === 1) out.splice(at, 1);
        else out[at] = byte;
      }
      out = out.filter((b) => b !== 0x0a);
      lines.push(Buffer.from(out));
    }
    for (let i = 0; i < lines.length; i += 200) {
      const blob = Buffer.concat(lines.slice(i, i + 200).flatMap((l) => [l, Buffer.from('\n')]));
      same(blob, `mutated lines ${i}-${i + 199}`);
    }
  });

  it('starts its table of values afresh past its size and still names every value right', () => {
    // 40,000 distinct deployments: past the scanner's 32,768, in blobs parsed one after another.
    for (let part = 0; part < 4; part += 1) {
      const lines: string[] = [];
      for (let i = 0; i < 10_000; i += 1) {
        lines.push(record({ properties: { modelDeploymentName: `d${part}-${i}`, modelName: `m${i % 7}` } }));
      }
      same(Buffer.from(`${lines.join('\n')}\n`), `distinct values, part ${part}`);
    }
    same(
      Buffer.from(`${record()}\n${record({ properties: { modelName: 'm3' } })}\n`),
      'after the table started afresh',
    );
  });

  describe('on synthetic exports (classic and modern)', () => {
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-scan-'));
      await synthesize({ dir: join(dir, 'classic'), seed: 3, days: 2, resources: 2, recordsPerHour: 30 });
      await synthesize({
        dir: join(dir, 'modern'),
        seed: 4,
        days: 1,
        resources: 1,
        size: 20e6,
        shape: 'modern',
      });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('the CLI says which parser it uses, and its report is the same with the scanner turned off', async () => {
      const reports: string[] = [];
      for (const env of [{}, { SLUICE_NATIVE: '0' }] as Record<string, string>[]) {
        const store = join(dir, `cli-${reports.length}.db`);
        const run = await sluice(
          ['ingest', join(dir, 'classic'), '--store', store, '--verbose', '--progress', 'none'],
          {
            env,
          },
        );
        assert.equal(run.code, 0, run.stderr);
        assert.match(
          run.stderr,
          'SLUICE_NATIVE' in env
            ? /parsing with JSON\.parse alone: the native scanner is not used, as it is turned off \(SLUICE_NATIVE=0\)/
            : /parsing with the native scanner \(.*scan\.node\)/,
        );
        const report = await sluice(['report', '--store', store, '--format', 'json']);
        assert.equal(report.code, 0, report.stderr);
        reports.push(report.stdout);
      }
      assert.equal(reports[0], reports[1]);
    });

    for (const shape of ['classic', 'modern']) {
      it(`${shape}: every blob gives the same result both ways, and the scanner reads its JSON lines`, () => {
        const files = (readdirSync(join(dir, shape), { recursive: true }) as string[]).filter((f) =>
          f.endsWith('PT1H.json'),
        );
        assert.ok(files.length > 20, `${files.length} blobs`);
        let records = 0;
        let scannedRecords = 0;
        for (const file of files) {
          const bytes = readFileSync(join(dir, shape, file));
          same(bytes, file);
          // The {"records": [...]} form is read record by record, by the parser alone.
          if (startsAsWrapper(bytes)) continue;
          records += parseBlob(bytes, undefined, { native: false }).records;
          scannedRecords += taken(bytes).records;
        }
        // Lines the scanner leaves are the quirks: junk, BOMs and the like, not the records.
        assert.ok(scannedRecords > records * 0.95, `${scannedRecords} of ${records} records read natively`);
      });
    }
  });
});
