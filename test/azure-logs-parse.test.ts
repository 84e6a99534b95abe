// The azure-logs parser, quirk by quirk: each test is one thing real exports do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delta } from '../src/aggregate/delta.js';
import { BlobParser, parseBlob } from '../src/tasks/azure-logs/parse.js';
import { recordTime } from '../src/tasks/azure-logs/record.js';

const rr = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    time: '2025-06-09T14:17:42.1230000Z',
    resourceId:
      '/SUBSCRIPTIONS/1111/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OAI-EASTUS',
    category: 'RequestResponse',
    operationName: 'ChatCompletions_Create',
    resultSignature: '200',
    durationMs: 1021,
    properties: { modelName: 'gpt-4o', modelVersion: '2024-11-20', modelDeploymentName: 'chat' },
    ...fields,
  });

function counter(delta: Delta, ...key: (string | null)[]): number {
  return delta.counters.get(JSON.stringify(key)) ?? 0;
}

function parse(text: string | Buffer) {
  const result = parseBlob(typeof text === 'string' ? Buffer.from(text) : text);
  const d = result.delta;
  return {
    ...result,
    records: counter(d, 'records'),
    malformed: counter(d, 'malformed'),
    cls: (c: string) => counter(d, 'class', c),
    code: (c: string) => counter(d, 'code', c),
    latency: d.latency.get(JSON.stringify(['all']))?.count ?? 0,
  };
}

describe('azure-logs parser', () => {
  it('counts JSON lines records and classifies 2xx, 429, other 4xx, 5xx and no status', () => {
    const lines = ['200', '429', '404', '503', undefined].map((s) => rr({ resultSignature: s }));
    const r = parse(`${lines.join('\n')}\n`);
    assert.equal(r.records, 5);
    assert.deepEqual(
      ['success', 'rateLimited', 'clientError', 'serverError', 'noStatus'].map(r.cls),
      [1, 1, 1, 1, 1],
    );
    assert.equal(r.malformed, 0);
  });

  it('accepts resultSignature as a number', () => {
    const r = parse(`${rr({ resultSignature: 429 })}\n`);
    assert.equal(r.cls('rateLimited'), 1);
    assert.equal(r.code('429'), 1);
  });

  it('reads properties given as a JSON-encoded string', () => {
    const props = JSON.stringify({ modelName: 'gpt-4o-mini', modelVersion: '2024-07-18' });
    const r = parse(`${rr({ properties: props })}\n`);
    assert.equal(counter(r.delta, 'day_model', '2025-06-09', 'gpt-4o-mini', '2024-07-18', 'success'), 1);
  });

  it('takes the status of API Management GatewayLogs from properties.responseCode', () => {
    const gw = JSON.stringify({
      time: '2025-06-09T10:00:00.0000000Z',
      category: 'GatewayLogs',
      operationName: 'Microsoft.ApiManagement/GatewayLogs',
      resultType: 'Failed',
      durationMs: 40,
      properties: { responseCode: 503, backendResponseCode: 503 },
    });
    const r = parse(`${gw}\n`);
    assert.equal(r.cls('serverError'), 1);
    assert.equal(r.code('503'), 1);
  });

  it('counts records with missing or negative durationMs but leaves them out of latency', () => {
    const r = parse(
      [rr({ durationMs: -5 }), rr({ durationMs: undefined }), rr({ durationMs: 12 })].join('\n'),
    );
    assert.equal(r.records, 3);
    assert.equal(r.latency, 1);
  });

  it('leaves records without a status out of latency', () => {
    const r = parse(`${rr({ resultSignature: undefined, durationMs: 10 })}\n`);
    assert.equal(r.latency, 0);
    assert.equal(r.cls('noStatus'), 1);
  });

  it('handles a UTF-8 BOM, CRLF line endings and blank lines', () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`${rr()}\r\n\r\n   \r\n${rr()}\r\n\n`),
    ]);
    const r = parse(body);
    assert.equal(r.records, 2);
    assert.equal(r.malformed, 0);
    assert.equal(r.bytes, body.length, 'every byte read is accounted, the BOM included');
    assert.deepEqual(r.resume, { offset: body.length, tailMalformed: false });
  });

  it('reads the pre-2018 {"records": [...]} form, one-line and pretty-printed', () => {
    const records = [JSON.parse(rr()), JSON.parse(rr({ resultSignature: '500' }))];
    for (const text of [JSON.stringify({ records }), JSON.stringify({ records }, null, 2)]) {
      const r = parse(text);
      assert.equal(r.records, 2);
      assert.equal(r.cls('serverError'), 1);
      assert.equal(r.malformed, 0);
    }
  });

  it('recognises the {"records": [...]} form even when the first chunk is tiny', () => {
    const bytes = Buffer.from(JSON.stringify({ records: [JSON.parse(rr()), JSON.parse(rr())] }, null, 2));
    const parser = new BlobParser();
    for (let i = 0; i < bytes.length; i += 5) parser.push(bytes.subarray(i, i + 5));
    const r = parser.end();
    assert.equal(counter(r.delta, 'records'), 2);
    assert.equal(counter(r.delta, 'malformed'), 0);
  });

  it('counts garbage and non-object JSON lines as malformed and goes on', () => {
    const r = parse(`${rr()}\n\u0000\u0001garbage\n[1,2]\n42\n"text"\nnull\n${rr()}\n`);
    assert.equal(r.records, 2);
    assert.equal(r.malformed, 5);
  });

  it('counts a last line cut mid-write as malformed and remembers where it starts', () => {
    const full = `${rr()}\n`;
    const cut = rr().slice(0, 40);
    const r = parse(full + cut);
    assert.equal(r.records, 1);
    assert.equal(r.malformed, 1);
    assert.deepEqual(r.resume, { offset: Buffer.byteLength(full), tailMalformed: true });
  });

  it('counts a complete last record without a trailing newline', () => {
    const text = `${rr()}\n${rr()}`;
    const r = parse(text);
    assert.equal(r.records, 2);
    assert.deepEqual(r.resume, { offset: Buffer.byteLength(text), tailMalformed: false });
  });

  it('finishes a cut line on the next pass and takes back its malformed count', () => {
    const first = `${rr()}\n${rr({ resultSignature: '429' }).slice(0, 30)}`;
    const whole = `${rr()}\n${rr({ resultSignature: '429' })}\n${rr()}\n`;
    const pass1 = parse(first);
    const bytes = Buffer.from(whole);
    const pass2 = parseBlob(bytes.subarray(pass1.resume.offset), pass1.resume);
    const d = pass1.delta.merge(pass2.delta);
    assert.equal(counter(d, 'records'), 3);
    assert.equal(counter(d, 'malformed'), 0);
    assert.equal(counter(d, 'class', 'rateLimited'), 1);
  });

  it('treats an empty blob as zero records', () => {
    const r = parse('');
    assert.equal(r.records, 0);
    assert.equal(r.malformed, 0);
    assert.deepEqual(r.resume, { offset: 0, tailMalformed: false });
  });

  it('gives the same result however the bytes are split into chunks, even inside a multi-byte character', () => {
    const text = `\ufeff${rr({ properties: { modelName: 'gpt-4o', modelDeploymentName: 'déploiement-中文' } })}\r\n${rr()}\n${rr().slice(0, 50)}`;
    const bytes = Buffer.from(text);
    const whole = parseBlob(bytes);
    for (const size of [1, 2, 3, 7, 64]) {
      const parser = new BlobParser();
      for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
      const chunked = parser.end();
      assert.deepEqual(chunked.delta.toData(), whole.delta.toData(), `chunks of ${size}`);
      assert.deepEqual(chunked.resume, whole.resume);
    }
  });

  it('takes the day from the record time (UTC), not from the blob path, and keeps the time verbatim', () => {
    const r = parse(
      `${rr({ time: '2025-06-08T23:59:59.9999999Z' })}\n${rr({ time: '2025-06-09T00:00:00.0000001Z' })}\n`,
    );
    assert.equal(counter(r.delta, 'day_model', '2025-06-08', 'gpt-4o', '2024-11-20', 'success'), 1);
    const time = r.delta.bounds.get('time');
    assert.equal(time?.min.text, '2025-06-08T23:59:59.9999999Z');
    assert.equal(time?.max.text, '2025-06-09T00:00:00.0000001Z');
  });

  it('converts a time with an offset to its UTC day', () => {
    const r = parse(`${rr({ time: '2025-06-09T01:30:00+02:00' })}\n`);
    assert.equal(counter(r.delta, 'day_model', '2025-06-08', 'gpt-4o', '2024-11-20', 'success'), 1);
  });

  it('keeps values apart even when they hold control characters (escaped in the raw JSON)', () => {
    // "a\u0001b" with model x, and "a" with model "b\u0001x": a naive joined key would merge them.
    const one = rr({ operationName: 'a\u0001b', properties: { modelName: 'x' } });
    const two = rr({ operationName: 'a', properties: { modelName: 'b\u0001x' } });
    const r = parse(`${one}\n${two}\n`);
    assert.equal(counter(r.delta, 'operation', 'a\u0001b', 'success'), 1);
    assert.equal(counter(r.delta, 'operation', 'a', 'success'), 1);
  });

  it('stays exact when the table of dimension tuples fills and starts afresh mid-blob', () => {
    // 30,000 distinct (deployment, operation) tuples (far past the table's bound, each value within
    // the distinct-value cap) between records of one common tuple.
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const properties = { modelName: 'gpt-4o', modelDeploymentName: `d${i % 999}` };
      lines.push(rr({ operationName: `o${Math.floor(i / 1000)}`, properties }), rr());
    }
    const r = parse(`${lines.join('\n')}\n`);
    assert.equal(r.records, 60_000);
    assert.equal(counter(r.delta, 'deployment', 'chat', 'success'), 30_000);
    assert.equal(counter(r.delta, 'deployment', 'd998', 'success'), 30);
    assert.equal(counter(r.delta, 'operation', 'o29', 'success'), 1000);
    let deployments = 0;
    for (const key of r.delta.counters.keys()) if (key.startsWith('["deployment"')) deployments += 1;
    assert.equal(deployments, 1000);
    assert.equal(counter(r.delta, 'folded', 'deployment'), 0);
    assert.equal(counter(r.delta, 'day_model', '2025-06-09', 'gpt-4o', '2024-11-20', 'success'), 30_000);
    assert.equal(counter(r.delta, 'day_model', '2025-06-09', 'gpt-4o', null, 'success'), 30_000);
  });

  it('groups records without model fields under a null model and version', () => {
    const r = parse(`${rr({ properties: { apiName: 'x' } })}\n${rr({ properties: '{not json' })}\n`);
    assert.equal(counter(r.delta, 'day_model', '2025-06-09', null, null, 'success'), 2);
  });

  it('reads lines with bytes past ASCII exactly as their UTF-8 text, wherever they fall in a chunk', () => {
    // Lines of every kind, shuffled by a fixed seed: ASCII, accented and CJK text in each field the
    // report reads, a 4-byte emoji, an invalid byte, raw UTF-8 next to \u escapes, `properties` as a
    // JSON string, a BOM in the middle of the blob, CRLF, lines that are only Unicode spaces, junk,
    // lines longer than the pieces a chunk is decoded in.
    const withEscape = rr({ operationName: 'raw-é', properties: { modelDeploymentName: 'esc-é' } }).replace(
      'esc-é',
      'esc-\\u00e9',
    );
    const kinds = [
      () => Buffer.from(rr()),
      () => Buffer.from(rr({ properties: { modelName: 'gpt-4o', modelDeploymentName: 'déploiement-中文' } })),
      () => Buffer.from(rr({ operationName: 'emoji-🚀', properties: { modelDeploymentName: 'x' } })),
      () => {
        const line = Buffer.from(rr({ operationName: 'invalid-#' }));
        line[line.indexOf('#')] = 0xff; // not UTF-8: decodes as U+FFFD
        return line;
      },
      () => Buffer.from(withEscape),
      () => Buffer.from(rr({ properties: JSON.stringify({ modelName: 'modèle', modelVersion: 'v-ü' }) })),
      () => Buffer.from(rr({ resourceId: '/SUBSCRIPTIONS/1/ACCOUNTS/compte-ß', resultSignature: 'Échec' })),
      () => Buffer.from(rr({ time: '2025-06-09T14:17:42.123000éZ', category: 'Catégorie' })),
      () => Buffer.from(`\ufeff${rr({ operationName: 'bom' })}`),
      () => Buffer.from(`${rr({ operationName: 'crlf-é' })}\r`),
      () => Buffer.from('\u00a0\u2028 \u3000'),
      () => Buffer.from('{"operationName": "cut-é'),
      // Longer than the pieces a chunk is read in (64 KiB), between lines past ASCII.
      () =>
        Buffer.from(rr({ operationName: 'long', properties: { modelDeploymentName: 'x'.repeat(70_000) } })),
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const lines = Array.from({ length: 600 }, () =>
      (kinds[Math.floor(random() * kinds.length)] as () => Buffer)(),
    );
    const bytes = Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')]));
    // The reference: each line decoded alone with the plain UTF-8 decoder, as a careful script
    // would, then written back as pure ASCII (every character past ASCII as a \u escape).
    const ascii = lines.map((line) => {
      let text = line.toString('utf8');
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.startsWith('\ufeff')) text = text.slice(1);
      if (text.trim() === '') return '';
      return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    });
    const reference = parseBlob(Buffer.from(`${ascii.join('\n')}\n`)).delta;
    assert.ok(counter(reference, 'operation', 'emoji-🚀', 'success') > 0);
    assert.ok(counter(reference, 'malformed') > 0);
    const sorted = (data: ReturnType<Delta['toData']>) => ({
      counters: [...data.counters].sort((x, y) => (x[0] < y[0] ? -1 : 1)),
      latency: [...data.latency].sort((x, y) => (x[0] < y[0] ? -1 : 1)),
      bounds: data.bounds,
    });
    const expected = reference.toData();
    for (const size of [bytes.length, 4096, 97]) {
      const parser = new BlobParser();
      for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
      assert.deepEqual(sorted(parser.end().delta.toData()), sorted(expected), `in chunks of ${size}`);
    }
  });

  it('keeps a 7-digit UTC time verbatim as its key, and reads other forms as before', () => {
    assert.deepEqual(recordTime('2025-06-09T14:17:42.1230000Z'), {
      key: '2025-06-09T14:17:42.1230000Z',
      day: '2025-06-09',
    });
    assert.deepEqual(recordTime('2025-06-09T14:17:42.123Z'), {
      key: '2025-06-09T14:17:42.1230000Z',
      day: '2025-06-09',
    });
    assert.deepEqual(recordTime('2025-06-09T14:17:42.123456789Z'), {
      key: '2025-06-09T14:17:42.1234567Z',
      day: '2025-06-09',
    });
    // Same length and punctuation as the fast form, but not digits: never taken verbatim.
    assert.equal(recordTime('2025-06-09T14:17:42.12300x0Z'), null);
    assert.equal(recordTime('２０２５-06-09T14:17:42.1230000Z'), null);
  });
});
