// One large file read in segments (src/analyze/segments.ts) gives what one pass over it gives:
// events, levels, errors with their examples' line numbers, API figures, skipped lines and the
// training run, with stack traces, training output whose state runs across a cut, an over-long
// line and invalid UTF-8 placed across the file. Inline here, and through the CLI's worker threads.
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { combine } from '../src/analyze/combine.js';
import { ANALYZE_DEFAULTS, startsEvent } from '../src/analyze/file-analyzer.js';
import { MAX_LINE_BYTES } from '../src/analyze/input.js';
import { RULES } from '../src/analyze/rules.js';
import { fileRunner } from '../src/analyze/run.js';
import { planSegments, SEGMENT_FROM_BYTES } from '../src/analyze/segments.js';
import analyzeFileJob, { type FileJob } from '../src/analyze/worker.js';
import { sluice } from './support/cli.js';

let dir: string;
let log: string;

/** A log4j-style log of about `bytes` bytes: every kind of event, and training lines between headers. */
function writeLog(file: string, bytes: number): void {
  let seed = 5;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const parts: Buffer[] = [];
  let size = 0;
  let ms = Date.UTC(2025, 4, 1);
  let epoch = 0;
  let mark = 0;
  let late = 0;
  const push = (text: string | Buffer) => {
    const b = typeof text === 'string' ? Buffer.from(`${text}\n`) : text;
    parts.push(b);
    size += b.length;
  };
  while (size < bytes) {
    ms += Math.floor(random() * 40);
    const time = new Date(ms).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
    const r = random();
    if (r < 0.45) {
      const status = random() < 0.05 ? 503 : 200;
      push(
        `${time} INFO [http-${Math.floor(random() * 9)}] com.acme.Api: RESPONSE GET /orders/${Math.floor(random() * 1e6)} ${status} Duration: ${Math.round(3 + random() ** 4 * 4000)}ms`,
      );
    } else if (r < 0.75) {
      push(
        `${time} WARN [worker-${Math.floor(random() * 4)}] com.acme.Queue: depth ${Math.floor(random() * 900)} over limit`,
      );
    } else if (r < 0.9) {
      push(
        `${time} ERROR [worker-1] com.acme.Db: write ${Math.floor(random() * 1e4)} failed: Connection refused`,
      );
      push('java.net.ConnectException: Connection refused');
      // Stack traces of up to 70 lines: some cross the nominal start of a segment.
      const depth = 1 + Math.floor(random() * 70);
      for (let i = 0; i < depth; i++) push(`\tat com.acme.Layer${i}.call(Layer${i}.java:${10 + i})`);
    } else if (r < 0.995 || parts.length < 2000) {
      push(`${time} ERROR [gpu-0] com.acme.Train: CUDA out of memory. Tried to allocate 2.00 GiB`);
    } else {
      // Keras output (past the lines the format is told from) whose epoch header and progress
      // line have a log line between them: the epoch is state carried across lines, and a cut
      // may fall between the two.
      epoch += 1;
      push(`Epoch ${epoch}/100000`);
      push(`${time} INFO [main] com.acme.Train: checkpoint saved`);
      push(
        `100/100 [==============================] - 2s 20ms/step - loss: ${(1 / epoch).toFixed(4)} - val_loss: ${(1.2 / epoch).toFixed(4)}`,
      );
    }
    // A kind of error first seen late in the file: its examples' line numbers are a later segment's.
    if (size > bytes * 0.7 && late < 4) {
      late += 1;
      push(
        `${time} ERROR [worker-2] com.acme.Store: write to /data/part-${late} failed: No space left on device`,
      );
    }
    // Every 3 MB or so: a line of invalid UTF-8 and one too long to keep.
    if (Math.floor(size / 3e6) !== mark) {
      mark = Math.floor(size / 3e6);
      push(
        Buffer.concat([
          Buffer.from(`${time} INFO [main] bad bytes \xff\xfe here`, 'latin1'),
          Buffer.from('\n'),
        ]),
      );
      push(`${time} INFO [main] blob ${'x'.repeat(MAX_LINE_BYTES + 10)}`);
    }
  }
  writeFileSync(file, Buffer.concat(parts));
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-analyze-segments-'));
  log = path.join(dir, 'app.log');
  writeLog(log, SEGMENT_FROM_BYTES * 1.5);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function job(file: string): FileJob {
  return {
    file: { path: file },
    options: { ...ANALYZE_DEFAULTS, rules: RULES },
    maxLineBytes: MAX_LINE_BYTES,
    spool: null,
  };
}

describe('analyze: one large file in segments', () => {
  it('cuts the file into segments that tile it, each starting at a line that starts an event', async () => {
    const plan = await planSegments(job(log));
    assert.ok(plan, 'a file past SEGMENT_FROM_BYTES is cut');
    assert.equal(plan.format, 'log4j');
    assert.ok(plan.segments.length >= 5, `segments: ${plan.segments.length}`);
    const { size } = await stat(log);
    assert.equal(plan.segments[0]?.start, 0);
    assert.equal(plan.segments.at(-1)?.end, size);
    const fd = openSync(log, 'r');
    try {
      for (const [i, s] of plan.segments.entries()) {
        if (i > 0) assert.equal(s.start, plan.segments[i - 1]?.end);
        const head = Buffer.alloc(300);
        readSync(fd, head, 0, head.length, s.start);
        const before = Buffer.alloc(1);
        if (s.start > 0) readSync(fd, before, 0, 1, s.start - 1);
        if (s.start > 0) assert.equal(before[0], 10, 'a segment starts after a newline');
        const line = head.toString('utf8').split('\n')[0] as string;
        assert.ok(
          startsEvent(line, 'log4j'),
          `segment ${i} starts with ${JSON.stringify(line.slice(0, 60))}`,
        );
      }
    } finally {
      closeSync(fd);
    }
  });

  it('gives what one pass gives (inline)', async () => {
    const whole = await analyzeFileJob(job(log));
    const runner = await fileRunner([{ path: log }], 0);
    const merged = await runner.run(job(log));
    await runner.close();
    assert.equal(merged.trainingHint, undefined);
    for (const key of [
      'path',
      'format',
      'lines',
      'events',
      'levels',
      'noLevel',
      'first',
      'last',
      'skipped',
    ] as const)
      assert.deepEqual(merged[key], whole[key], key);
    assert.deepEqual(merged.errors, whole.errors, 'errors, their rules and their examples (file:line)');
    assert.ok(whole.training && whole.training.epochs.length > 5, 'the log has a training run');
    assert.deepEqual(merged.training, whole.training, 'training run, epochs carried across cuts');
    const sortBins = (bins: [number, number][]) => [...bins].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(
      {
        ...merged.api,
        latency: sortBins(merged.api.latency),
        durationSumMs: Math.round(merged.api.durationSumMs),
      },
      {
        ...whole.api,
        latency: sortBins(whole.api.latency),
        durationSumMs: Math.round(whole.api.durationSumMs),
      },
    );
    assert.ok(whole.skipped.longLines > 0 && whole.skipped.invalidUtf8Lines > 0);
    assert.ok((whole.errors.disk?.examples[0]?.line ?? 0) > whole.lines * 0.6, 'an error first seen late');
    // Templates are mined per segment and merged as files' are: the same templates here.
    const a = combine([merged], { slowMs: 1000 }).analysis;
    const b = combine([whole], { slowMs: 1000 }).analysis;
    assert.deepEqual(a.templates, b.templates);
    assert.deepEqual(a.api, b.api);
  });

  it('gives through the CLI, on worker threads, the report one pass gives', async () => {
    // --structured keeps a file whole (its rows are written in file order with their templates).
    const structured = path.join(dir, 'rows.csv');
    const [split, whole] = await Promise.all([
      sluice(['analyze', log, '--format', 'json', '--workers', '2'], { cwd: dir }),
      sluice(['analyze', log, '--format', 'json', '--structured', structured], { cwd: dir }),
    ]);
    assert.equal(split.code, 0, split.stderr);
    assert.equal(whole.code, 0, whole.stderr);
    assert.deepEqual(JSON.parse(split.stdout), JSON.parse(whole.stdout));
    assert.ok((await readFile(structured, 'utf8')).length > 0);
  });
});
