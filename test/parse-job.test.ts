// Parse jobs as the worker threads run them: a group of local files adds into one tally, and
// the group's delta is exactly the sum of what each file gives alone, whatever fails.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Delta } from '../src/aggregate/delta.js';
import { MARK_BYTES, markOf } from '../src/tasks/azure-logs/checkpoint.js';
import parseJob, { type GroupOutput, type ParseOutput } from '../src/tasks/azure-logs/worker.js';

const line = (i: number, fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    time: `2025-06-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00.0000000Z`,
    resourceId: `/SUBSCRIPTIONS/1/ACCOUNTS/OAI-${i % 3}`,
    category: 'RequestResponse',
    operationName: 'ChatCompletions_Create',
    resultSignature: ['200', '429', '500'][i % 3],
    durationMs: 10 + (i % 97),
    properties: { modelName: `m${i % 4}`, modelVersion: '1', modelDeploymentName: `d${i % 5}` },
    ...fields,
  });

let dir: string;
const files: { id: string; path: string; resume: { offset: number; tailMalformed: boolean } }[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-parse-job-'));
  const bodies = [
    // Small ones, read whole before they count.
    `${line(1)}\n${line(2)}\n{"cut": \n`,
    `\ufeff${line(3)}\r\n${line(4, { properties: { modelName: 'é-modèle' } })}\r\n`,
    `{"records": [${line(5)}, ${line(6)}]}`,
    // Larger than one 4 MB read: parsed on its own tally, then added.
    Array.from({ length: 24_000 }, (_, i) => line(i)).join('\n'),
    `${line(7)}\n${line(8)}`,
  ];
  for (const [i, body] of bodies.entries()) {
    const file = path.join(dir, `${i}.json`);
    await writeFile(file, body);
    files.push({ id: String(i), path: file, resume: { offset: 0, tailMalformed: false } });
  }
  // The last file resumes after its first line, whose tail was counted as cut.
  const last = files[files.length - 1] as (typeof files)[number];
  last.resume = { offset: Buffer.byteLength(`${line(7)}\n`), tailMalformed: true };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A delta as plain sorted data, so two can be compared whatever order they were built in. */
function plain(delta: Delta) {
  const data = delta.toData();
  const byKey = <T>(entries: [string, T][]) => [...entries].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  return {
    counters: byKey(data.counters.filter(([, n]) => n !== 0)),
    latency: byKey(data.latency).map(([k, s]) => [
      k,
      { max: s.max, bins: [...s.bins].sort((x, y) => x[0] - y[0]) },
    ]),
    bounds: data.bounds,
  };
}

describe('parse jobs', () => {
  it('gives a group of files exactly the sum of each file parsed alone', () => {
    const group = parseJob({ kind: 'files', files }) as GroupOutput;
    const sum = new Delta();
    for (const [i, file] of files.entries()) {
      const alone = parseJob({ kind: 'file', path: file.path, resume: file.resume }) as ParseOutput;
      sum.merge(Delta.fromData(alone.delta));
      assert.deepEqual(group.items[i], {
        id: file.id,
        resume: alone.resume,
        records: alone.records,
        bytes: alone.bytes,
        mark: alone.mark,
      });
      // The mark of the last bytes read, as a later pass reads them back to tell an append from a rewrite.
      const end = file.resume.offset + alone.bytes;
      const body = readFileSync(file.path);
      assert.deepEqual(alone.mark, markOf(body.subarray(Math.max(0, end - MARK_BYTES), end), end));
    }
    assert.deepEqual(plain(Delta.fromData(group.delta)), plain(sum));
    assert.equal(
      group.items.reduce((n, item) => n + ('records' in item ? item.records : 0), 0),
      24_007,
    );
  });

  it('counts nothing from a file that cannot be read, and the rest in full', () => {
    const missing = {
      id: 'gone',
      path: path.join(dir, 'gone.json'),
      resume: { offset: 0, tailMalformed: false },
    };
    const withGap = [files[0], missing, files[1]] as typeof files;
    const group = parseJob({ kind: 'files', files: withGap }) as GroupOutput;
    assert.match(JSON.stringify(group.items[1]), /"error":"cannot read .*gone\.json: ENOENT"/);
    const without = parseJob({ kind: 'files', files: [files[0], files[1]] as typeof files }) as GroupOutput;
    assert.deepEqual(plain(Delta.fromData(group.delta)), plain(Delta.fromData(without.delta)));
  });
});
