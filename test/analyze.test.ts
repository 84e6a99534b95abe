// `sluice analyze`: the analysis core (pure functions over lines) and the command's contract.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { endpointOf, requestFromText } from '../src/analyze/api.js';
import { combine } from '../src/analyze/combine.js';
import { Drain, maskTokens, templateText } from '../src/analyze/drain.js';
import { analyzeText } from '../src/analyze/file-analyzer.js';
import { detectFormat, headerByPattern, log4jHeader, parseHeader } from '../src/analyze/formats.js';
import { groupsOf, positional } from '../src/analyze/groups.js';
import { healthScore } from '../src/analyze/health.js';
import { readLines } from '../src/analyze/input.js';
import { normaliseLevel } from '../src/analyze/levels.js';
import { parseRules, RULES } from '../src/analyze/rules.js';
import { escapeControl, shownText } from '../src/analyze/text.js';
import { isoOfKey, keyOfIso, parseTime, timeKey } from '../src/analyze/time.js';
import { svgToPng } from '../src/render/chart.js';
import { CLI, finished, sluice } from './support/cli.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/analyze');
const fixture = (name: string) => path.join(FIXTURES, name);
const analyzeFixture = async (name: string) =>
  combine([analyzeText(name, await readFile(fixture(name), 'utf8'), { rules: RULES })], { slowMs: 1000 })
    .analysis;

describe('analyze: levels', () => {
  it('normalises level spellings as DESIGN.md says', () => {
    const cases: [string | number, string][] = [
      ['WARN', 'WARNING'],
      ['warning', 'WARNING'],
      ['FATAL', 'CRITICAL'],
      ['SEVERE', 'CRITICAL'],
      ['CRIT', 'CRITICAL'],
      ['EMERG', 'CRITICAL'],
      ['ALERT', 'CRITICAL'],
      ['ERR', 'ERROR'],
      ['V', 'TRACE'],
      ['D', 'DEBUG'],
      ['I', 'INFO'],
      ['W', 'WARNING'],
      ['E', 'ERROR'],
      ['F', 'CRITICAL'],
      ['notice', 'NOTICE'],
      [50, 'ERROR'],
      [30, 'INFO'],
    ];
    for (const [word, level] of cases) assert.equal(normaliseLevel(word), level, String(word));
    assert.equal(normaliseLevel('banana'), null);
  });

  it('reads the level from its place in the line, never from a word in the message', async () => {
    const a = await analyzeFixture('python-app.log');
    assert.equal(a.levels.INFO, 3); // "the word ERROR in a message is not a level" is INFO
    assert.equal(a.levels.ERROR, 2);
    assert.equal(a.levels.CRITICAL, 1);
    const h = parseHeader(
      '2015-07-29 19:04:29,071 - WARN  [SendWorker:1@688] - ERROR happened elsewhere',
      'log4j',
    );
    assert.equal(h?.level, 'WARNING');
  });

  it('reads glog, nginx, Apache and syslog levels', () => {
    assert.equal(parseHeader('E0302 10:00:01.123456  1234 file.cc:12] boom', 'glog')?.level, 'ERROR');
    assert.equal(
      parseHeader('2025-03-02 10:00:01.123456: W tensorflow/core/x.cc:1] careful', 'glog')?.level,
      'WARNING',
    );
    assert.equal(
      parseHeader('2024/01/01 12:00:00 [crit] 12#0: *3 upstream gone', 'nginx-error')?.level,
      'CRITICAL',
    );
    assert.equal(
      parseHeader('[Wed Oct 11 14:32:52 2000] [notice] Apache configured', 'apache-error')?.level,
      'NOTICE',
    );
    assert.equal(parseHeader('<11>Jun 14 15:16:01 web sshd[42]: bad things', 'syslog')?.level, 'ERROR');
  });
});

describe('analyze: events and formats', () => {
  it('makes a Python traceback one event, with the line where it starts', () => {
    const rows: { line: number; level: string | null; message: string }[] = [];
    const s = analyzeText('app.log', '', {});
    assert.equal(s.events, 0);
    analyzeText(
      'tb.log',
      `Loading\nTraceback (most recent call last):\n  File "x.py", line 1\nValueError: bad\nnext\n`,
      {},
      (r) => rows.push(r),
    );
    assert.deepEqual(
      rows.map((r) => [r.line, r.level]),
      [
        [1, null],
        [2, 'ERROR'],
        [5, null],
      ],
    );
  });

  it('makes a Java stack trace one event under its log4j header', () => {
    const text = [
      '2024-01-01 10:00:00,000 ERROR [main] com.acme.Service: request failed',
      'java.net.ConnectException: Connection refused',
      '\tat com.acme.Client.call(Client.java:10)',
      'Caused by: java.io.IOException: boom',
      '\t... 3 more',
      '2024-01-01 10:00:01,000 INFO [main] com.acme.Service: recovered',
    ].join('\n');
    const s = analyzeText('java.log', text, { rules: RULES });
    assert.equal(s.events, 2);
    assert.equal(s.errors.network?.count, 1); // the category comes from the stack trace's lines
  });

  it('detects each format from the first lines', async () => {
    const expected: Record<string, string> = {
      'python-app.log': 'python',
      'keras2.log': 'keras',
      'keras3.log': 'keras',
      'lightning.log': 'lightning',
      'metrics.csv': 'metrics-csv',
      'huggingface.log': 'huggingface',
      'access.log': 'access',
      'app.jsonl': 'jsonl',
    };
    for (const [name, format] of Object.entries(expected)) {
      const a = await analyzeFixture(name);
      assert.equal(a.files[0]?.format, format, name);
    }
    assert.equal(detectFormat(['ts=2024-01-01T00:00:00Z level=warn msg="disk at 91%" path=/var']), 'logfmt');
    assert.equal(detectFormat(['Jun 14 15:16:01 web sshd[42]: Accepted publickey']), 'syslog');
  });

  it('reads JSON lines with any of the common key names', async () => {
    const a = await analyzeFixture('app.jsonl');
    assert.deepEqual([a.levels.INFO, a.levels.ERROR, a.levels.WARNING], [1, 2, 1]);
    assert.equal(a.timeRange.first, '2025-03-02T10:00:00.000Z');
  });
});

describe('analyze: errors', () => {
  it('categorises each error by its whole text, whatever the errors before it with the same first line', () => {
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) {
      lines.push(
        '2025-03-02 10:00:0%d,000 ERROR [main] app.Worker: step failed'.replace('%d', String(i * 2)),
      );
      lines.push('java.lang.RuntimeException: CUDA out of memory. Tried to allocate 2.00 GiB');
      lines.push(
        '2025-03-02 10:00:0%d,500 ERROR [main] app.Worker: step failed'.replace('%d', String(i * 2)),
      );
      lines.push('java.net.ConnectException: Connection refused');
      lines.push('\tat app.Worker.step(Worker.java:1)');
    }
    lines.push('2025-03-02 10:00:09,000 ERROR [main] app.Worker: step failed');
    const s = analyzeText('same-first-line.log', lines.join('\n'), { rules: RULES });
    const counts = Object.fromEntries(Object.values(s.errors).map((t) => [t?.category, t?.count]));
    assert.deepEqual(counts, { gpu: 3, network: 3, other: 1 });
  });

  it('puts errors in categories with severity, advice and file:line examples', async () => {
    const a = await analyzeFixture('python-app.log');
    const by = Object.fromEntries(a.errors.byCategory.map((c) => [c.category, c]));
    assert.equal(by.gpu?.count, 1);
    assert.equal(by.gpu?.severity, 'critical');
    assert.match(by.gpu?.advice ?? '', /batch size/);
    assert.deepEqual(by.gpu?.examples[0] && [by.gpu.examples[0].file, by.gpu.examples[0].line], [
      'python-app.log',
      4,
    ]);
    assert.equal(by.disk?.count, 1);
    assert.equal(by.database?.count, 1);
  });

  it('counts an event without a level as an error only when a critical rule names it', () => {
    const s = analyzeText(
      'sys.log',
      [
        'Jun 14 15:16:01 web kernel: Out of memory: Killed process 1234 (python)',
        'Jun 14 15:16:02 web app[7]: connection timeout set to 30s',
      ].join('\n'),
      { rules: RULES },
    );
    assert.equal(s.errors.memory?.count, 1);
    assert.equal(s.errors.network, undefined);
    assert.equal(s.levels.ERROR, 0);
  });

  it('tries user rules (JSON or the line format) before the built-in ones', () => {
    const lines = parseRules('# mine\nmodel | high | step \\d+ failed | look at the step', 'rules.txt');
    const s = analyzeText('a.log', '2025-03-02 10:00:03,004 - t - ERROR - step 120 failed', {
      rules: [...lines, ...RULES],
    });
    assert.equal(s.errors.model?.count, 1);
    const json = parseRules(
      '[{"category":"data","pattern":"failed","severity":"low","advice":"x"}]',
      'r.json',
    );
    assert.equal(json[0]?.severity, 'low');
    assert.throws(() => parseRules('nope | high | x | y', 'r.txt'), /category "nope"/);
  });
});

describe('analyze: templates', () => {
  it('masks ids, IPs, numbers, hex, paths, UUIDs and durations', () => {
    const tokens = maskTokens(
      'user 42 from 10.0.0.1:8080 req 3f2a9c1e-1b2c-4d5e-8f90-123456789abc hash deadbeef01 at /var/log/app.log took 250ms ptr 0x1F',
    );
    assert.equal(tokens.join(' '), 'user <*> from <*> req <*> hash <*> at <*> took <*> ptr <*>');
  });

  it('merges Drain states from different files into the templates one state would find', () => {
    const lines = [
      'open file a.txt in 5 ms',
      'open file b.txt in 7 ms',
      'close socket 3',
      'close socket 9',
      'open file c.txt in 2 ms',
    ];
    const one = new Drain();
    for (const l of lines) one.add(l);
    const left = new Drain();
    const right = new Drain();
    for (const [i, l] of lines.entries()) (i % 2 ? left : right).add(l);
    const mapping = left.merge(right);
    const texts = (d: Drain) => d.clusters.map((c) => `${templateText(c.tokens)}:${c.count}`).sort();
    assert.deepEqual(texts(left), texts(one));
    assert.equal(mapping.length, right.clusters.length);
  });
});

describe('analyze: training', () => {
  it('reads Keras 2 epochs (only each epoch final bar), the best epoch and overfitting', async () => {
    const [run] = (await analyzeFixture('keras2.log')).training;
    assert.equal(run?.framework, 'keras');
    assert.equal(run?.epochs.length, 6);
    assert.deepEqual(run?.epochs[2], {
      epoch: 3,
      loss: 0.2101,
      accuracy: 0.935,
      val_loss: 0.19,
      val_accuracy: 0.942,
      time_s: 13,
    });
    assert.equal(run?.bestEpoch, 3);
    assert.equal(run?.overfitting.detected, true);
    assert.equal(run?.overfitting.fromEpoch, 4);
    assert.equal(run?.overfitting.gap, 0.1895);
  });

  it('reads Keras verbose=2 lines, one per epoch', () => {
    const text = [
      'Epoch 1/2',
      '313/313 - 0s - loss: 0.0778 - accuracy: 0.9777 - val_loss: 1.2340e-01 - 358ms/epoch - 1ms/step',
      'Epoch 2/2',
      '313/313 - 0s - loss: 0.0601 - accuracy: 0.9801 - val_loss: 1.1000e-01 - 350ms/epoch - 1ms/step',
    ].join('\n');
    const run = analyzeText('v2.log', text).training;
    assert.deepEqual(run?.epochs, [
      { epoch: 1, loss: 0.0778, accuracy: 0.9777, val_loss: 0.1234 },
      { epoch: 2, loss: 0.0601, accuracy: 0.9801, val_loss: 0.11 },
    ]);
  });

  it('reads Keras 3 bars through ANSI colours and carriage returns, keeping the bar with val_*', async () => {
    const [run] = (await analyzeFixture('keras3.log')).training;
    assert.equal(run?.epochs.length, 4);
    assert.deepEqual(run?.epochs[3], {
      epoch: 4,
      accuracy: 0.92,
      learning_rate: 0.001,
      loss: 0.25,
      val_accuracy: 0.87,
      val_loss: 0.37,
      time_s: 27,
    });
    assert.equal(run?.bestEpoch, 3);
    assert.equal(run?.overfitting.detected, false);
  });

  it('reads Lightning progress bars and metrics.csv alike, numbering epochs from 1', async () => {
    const bar = (await analyzeFixture('lightning.log')).training[0];
    const csv = (await analyzeFixture('metrics.csv')).training[0];
    // The bar also tells each epoch's time ([01:57<00:00]); metrics.csv does not.
    const { time_s, ...metrics } = bar?.epochs[0] ?? {};
    assert.equal(time_s, 117);
    assert.deepEqual(metrics, { epoch: 1, loss: 1.59, accuracy: 0.688, val_loss: 1.42, val_accuracy: 0.75 });
    assert.deepEqual(
      bar?.epochs.map(({ time_s: _, ...rest }) => rest),
      csv?.epochs,
    );
    assert.equal(bar?.bestEpoch, 2);
    assert.equal(bar?.overfitting.fromEpoch, 3);
  });

  it('reads Hugging Face dict lines in both float forms, and flags NaN losses', async () => {
    const [run] = (await analyzeFixture('huggingface.log')).training;
    assert.equal(run?.epochs.length, 3);
    assert.equal(run?.epochs[1]?.loss, 0.2608);
    assert.equal(run?.epochs[1]?.val_accuracy, 0.8801);
    assert.equal(run?.epochs[2]?.loss, 'NaN');
    assert.deepEqual(
      run?.nonFinite.map((n) => n.metric),
      ['loss', 'val_loss'],
    );
    assert.equal(run?.bestEpoch, 2);
  });

  it('reads the Hugging Face table and plain "Epoch N/M - loss:" lines', async () => {
    const [table] = (await analyzeFixture('huggingface-table.log')).training;
    assert.deepEqual(table?.epochs[1], {
      epoch: 2,
      loss: 0.25,
      val_loss: 0.31,
      val_accuracy: 0.882,
      val_f1: 0.876,
    });
    const [plain] = (await analyzeFixture('plain-epochs.log')).training;
    assert.equal(plain?.epochs.length, 5);
    assert.equal(plain?.bestEpoch, 5);
  });
});

describe('analyze: API requests', () => {
  it('reads the request shapes and folds ids in endpoints', () => {
    assert.deepEqual(requestFromText('RESPONSE POST /path 200 Duration: 245ms'), {
      method: 'POST',
      path: '/path',
      status: 200,
      durationMs: 245,
    });
    assert.deepEqual(
      requestFromText(
        '10.11.10.1 "GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829',
      ),
      {
        method: 'GET',
        path: '/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail',
        status: 200,
        durationMs: 247.7829,
      },
    );
    assert.equal(
      endpointOf('GET', '/users/123/orders/3f2a9c1e-1b2c-4d5e-8f90-123456789abc?x=1'),
      'GET /users/{id}/orders/{id}',
    );
  });

  it('counts status classes, latency within 1 % and slow requests with examples', async () => {
    const a = await analyzeFixture('api.log');
    assert.equal(a.api.requests, 6);
    assert.deepEqual(a.api.statusClasses, { success: 4, serverError: 1, rateLimited: 1 });
    const exact = [120, 80, 245, 1500, 5, 1200].sort((x, y) => x - y);
    const p50 = exact[Math.floor(0.5 * (exact.length - 1))] as number;
    assert.ok(Math.abs((a.api.latencyMs.p50 as number) - p50) <= p50 * 0.01);
    assert.equal(a.api.latencyMs.max, 1500);
    assert.equal(a.api.latencyMs.mean, 525);
    assert.equal(a.api.slowRequests.count, 2);
    assert.deepEqual(
      a.api.slowRequests.examples.map((e) => e.line),
      [4, 6],
    );
    assert.equal(a.api.byEndpoint.find((e) => e.endpoint === 'GET /users/{id}')?.requests, 3);
  });

  it('gives latency percentiles within 1 % of the exact values on many requests', () => {
    let seed = 5;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const durations = Array.from(
      { length: 5000 },
      () => Math.round((1 + random() ** 4 * 5000) * 1000) / 1000,
    );
    const text = durations.map((d, i) => `RESPONSE GET /items/${i} 200 Duration: ${d}ms`).join('\n');
    const a = combine([analyzeText('api.log', text, { rules: RULES })], { slowMs: 1000 }).analysis;
    const sorted = [...durations].sort((x, y) => x - y);
    for (const [key, q] of [
      ['p50', 0.5],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))] as number;
      const got = a.api.latencyMs[key] as number;
      assert.ok(Math.abs(got - exact) <= exact * 0.01, `${key}: ${got} vs exact ${exact}`);
    }
    assert.equal(a.api.latencyMs.max, sorted.at(-1));
    assert.equal(a.api.byEndpoint.length, 1); // /items/{id}
  });

  it('reads request times from access logs and JSON keys', async () => {
    const access = await analyzeFixture('access.log');
    assert.equal(access.api.latencyMs.max, 2500);
    assert.equal(access.api.statusCodes['404'], 1);
    const json = await analyzeFixture('app.jsonl');
    assert.equal(json.api.requests, 3);
    assert.equal(json.api.latencyMs.max, 3000);
  });
});

describe('analyze: health score', () => {
  it('lists every penalty with its reason and points, and the score is 100 minus their sum', () => {
    const h = healthScore({
      events: 100,
      errorEvents: 5,
      criticalEvents: 0,
      categories: [{ category: 'gpu', severity: 'critical', count: 2, advice: 'x' }],
      training: [{ file: 't.log', nonFinite: 0, overfitting: true, fromEpoch: 4, bestEpoch: 3 }],
      requests: 0,
      serverErrors: 0,
      slowRequests: 0,
      slowMs: 1000,
      skipped: 0,
    });
    assert.deepEqual(
      h.penalties.map((p) => p.points),
      [10, 10, 10],
    );
    assert.equal(h.score, 70);
    assert.equal(h.grade, 'C');
    assert.equal(h.recommendations.length, 2);
  });
});

describe('sluice analyze (command)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-analyze-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the DESIGN.md JSON contract', async () => {
    const run = await sluice(['analyze', FIXTURES, '--include', '*.log', '--format', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const a = JSON.parse(run.stdout);
    for (const key of [
      'files',
      'events',
      'levels',
      'timeRange',
      'errors',
      'templates',
      'training',
      'api',
      'health',
    ])
      assert.ok(key in a, key);
    assert.deepEqual(Object.keys(a.levels), [
      'TRACE',
      'DEBUG',
      'INFO',
      'NOTICE',
      'WARNING',
      'ERROR',
      'CRITICAL',
    ]);
    assert.deepEqual(Object.keys(a.files[0]).slice(0, 4), ['path', 'format', 'lines', 'events']);
    assert.ok(a.files.every((f: { path: string }) => f.path.endsWith('.log')));
    assert.deepEqual(Object.keys(a.api.latencyMs).sort(), ['count', 'max', 'mean', 'p50', 'p95', 'p99']);
    assert.deepEqual(Object.keys(a.errors.byCategory[0]).slice(0, 5), [
      'category',
      'severity',
      'count',
      'examples',
      'advice',
    ]);
    assert.deepEqual(Object.keys(a.templates[0]).slice(0, 4), ['id', 'template', 'count', 'level']);
    assert.ok(Number.isInteger(a.health.score));
  });

  it('exits 2 on a missing path or an unknown format, saying what is wrong', async () => {
    const missing = await sluice(['analyze', path.join(dir, 'nope.log')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.log: no such file or folder/);
    const format = await sluice(['analyze', fixture('api.log'), '--log-format', 'cobol']);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /expected one of/);
  });

  it('forces a format with --log-format, and refuses a rules file it cannot use (exit 2)', async () => {
    const forced = JSON.parse(
      (await sluice(['analyze', fixture('python-app.log'), '--log-format', 'plain', '--format', 'json']))
        .stdout,
    );
    assert.equal(forced.files[0].format, 'plain');
    assert.equal(forced.events, 7); // the traceback is still one event
    const rules = path.join(dir, 'rules.txt');
    await writeFile(rules, 'data | urgent | x | y\n');
    const bad = await sluice(['analyze', fixture('python-app.log'), '--rules', rules]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /rules\.txt:1: severity "urgent"/);
    const missing = await sluice([
      'analyze',
      fixture('python-app.log'),
      '--rules',
      path.join(dir, 'none.txt'),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the rules file .*none\.txt: ENOENT/);
  });

  it('writes one structured row per event, with the 1-based line where it starts', async () => {
    const out = path.join(dir, 'events.csv');
    const run = await sluice(['analyze', fixture('python-app.log'), '--structured', out]);
    assert.equal(run.code, 0, run.stderr);
    const rows = parse(await readFile(out), { columns: true }) as Record<string, string>[];
    assert.deepEqual(Object.keys(rows[0] ?? {}), [
      'file',
      'line',
      'time',
      'level',
      'template_id',
      'template',
      'message',
    ]);
    assert.deepEqual(
      rows.map((r) => r.line),
      ['1', '2', '3', '4', '11', '12', '13'],
    );
    assert.equal(rows[3]?.level, 'ERROR');
    assert.equal(rows[3]?.time, '2025-03-02T10:00:03.004Z');
    assert.match(rows[0]?.template_id ?? '', /^T[0-9a-f]{8}$/);
  });

  it('writes training metrics as CSV', async () => {
    const run = await sluice(['analyze', fixture('keras2.log'), '--format', 'csv']);
    assert.equal(run.code, 0, run.stderr);
    const rows = parse(run.stdout, { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 6);
    assert.deepEqual(Object.keys(rows[0] ?? {}), [
      'file',
      'framework',
      'epoch',
      'loss',
      'accuracy',
      'val_loss',
      'val_accuracy',
      'time_s',
      'best',
    ]);
    assert.equal(rows[2]?.best, 'true');
  });

  it('reads .gz files and standard input', async () => {
    const gz = path.join(dir, 'app.log.gz');
    await writeFile(gz, gzipSync(await readFile(fixture('python-app.log'))));
    const zipped = JSON.parse((await sluice(['analyze', gz, '--format', 'json'])).stdout);
    assert.equal(zipped.events, 7);
    const child = spawn(process.execPath, [CLI, 'analyze', '-', '--format', 'json'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const done = finished(child);
    child.stdin?.end(await readFile(fixture('python-app.log')));
    const piped = JSON.parse((await done).stdout);
    assert.equal(piped.events, 7);
    assert.equal(piped.files[0].path, '-');
  });

  it('never writes control characters from the data to the terminal report', async () => {
    const file = path.join(dir, 'evil.log');
    await writeFile(file, '2024-01-01 10:00:00,000 ERROR [main] x.Y: bell\x07 and \x1b]0;pwned\x07 title\n');
    const run = await sluice(['analyze', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes('\x07') && !run.stdout.includes('\x1b'), 'no BEL or ESC in the report');
    assert.match(run.stdout, /\\x07/);
    assert.equal(escapeControl('a\x1bb'), 'a\\x1bb');
  });

  it('skips binary files and a 100 MB line (in bounded memory), reports invalid UTF-8 and empty files, without failing', async () => {
    const bad = path.join(dir, 'bad');
    await mkdir(bad);
    await writeFile(path.join(bad, 'blob.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3]));
    await writeFile(path.join(bad, 'empty.log'), '');
    await writeFile(
      path.join(bad, 'latin1.log'),
      Buffer.concat([Buffer.from('2024-01-01 10:00:00,000 INFO [m] a.B: caf'), Buffer.from([0xe9, 0x0a])]),
    );
    await writeFile(
      path.join(bad, 'long.log'),
      `${'x'.repeat(100_000_000)}\n2024-01-01 10:00:00,000 INFO [m] a.B: after\n`,
    );
    const run = await sluice(['analyze', bad, '--format', 'json', '--max-line', '1MB'], {
      nodeArgs: ['--max-old-space-size=64'],
    });
    assert.equal(run.code, 0, run.stderr);
    const a = JSON.parse(run.stdout);
    assert.deepEqual(a.skipped.files, [
      { path: path.join(bad, 'blob.bin'), reason: 'binary (NUL bytes in the first 8 KiB)' },
    ]);
    assert.equal(a.skipped.longLines, 1);
    assert.equal(a.skipped.invalidUtf8Lines, 1);
    assert.equal(a.files.find((f: { path: string }) => f.path.endsWith('empty.log')).lines, 0);
    assert.equal(a.events, 2);
  });

  it('reads links to files in a folder, and does not follow links to folders', async () => {
    const linked = path.join(dir, 'linked');
    await mkdir(linked);
    await symlink(fixture('python-app.log'), path.join(linked, 'app.log'));
    await symlink(linked, path.join(linked, 'loop'));
    const run = await sluice(['analyze', linked, '--format', 'json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      JSON.parse(run.stdout).files.map((f: { path: string }) => f.path),
      [path.join(linked, 'app.log')],
    );
  });

  it('reads a folder of many small files', async () => {
    const many = path.join(dir, 'many');
    await mkdir(many);
    for (let i = 0; i < 400; i++) {
      await writeFile(
        path.join(many, `f${String(i).padStart(3, '0')}.log`),
        `2024-01-01 10:00:00,000 ERROR [m] a.B: job ${i} failed: Connection refused\n`,
      );
    }
    const run = await sluice(['analyze', many, '--format', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const a = JSON.parse(run.stdout);
    assert.equal(a.files.length, 400);
    assert.equal(a.errors.byCategory[0].category, 'network');
    assert.equal(a.errors.byCategory[0].count, 400);
    assert.equal(a.templates.length, 1);
  });
});

describe('sluice analyze --plots', () => {
  it('writes loss and accuracy plots as SVG and PNG, the best epoch marked and text rendered', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-plots-'));
    try {
      const run = await sluice(['analyze', fixture('keras2.log'), '--plots', dir]);
      assert.equal(run.code, 0, run.stderr);
      const svg = await readFile(path.join(dir, 'keras2-loss.svg'), 'utf8');
      assert.match(svg, /^<svg/);
      assert.match(svg, /best epoch 3/);
      assert.match(svg, /validation loss/);
      const png = await readFile(path.join(dir, 'keras2-accuracy.png'));
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      // Text is drawn: the same chart with its text removed gives a clearly smaller PNG.
      const withText = svgToPng(svg).length;
      const without = svgToPng(svg.replace(/<text[\s\S]*?<\/text>/g, '')).length;
      assert.ok(withText > without * 1.2, `PNG ${withText} bytes with text, ${without} without`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('analyze: fast paths give the answers of the slow ones', () => {
  it('Drain remembers message shapes without changing a single cluster', async () => {
    const messages = [
      // A remembered shape whose search must change once a tree node is added for "start".
      '123 ready now',
      'start ready now',
      'start the car',
      'start ready now',
      // A remembered shape whose leaf gains a closer cluster: it must move there.
      'task runner alpha begins quickly',
      'task runner alpha stops slowly',
      'task runner omega stops slowly',
      'task runner alpha stops slowly',
      // Only wildcards: below the similarity threshold even to itself, each one a new cluster.
      '1 0.5 0.25',
      '2 0.4 0.35',
      '3 0.3 0.45',
      // Digits no mask takes, hex literals and generalisation after a shape was remembered.
      'user abc123 logged in',
      'user abc456 logged in',
      'ptr 0x1F freed',
      'ptr 0x2E freed',
      // Same length, same key but for the `0x`: the shape remembered by length must not take it.
      'open /0x9/b now',
      'open /5x1/b now',
      'open /0x1/b now',
      'job 12 done on node-a',
      'job 13 done on node-b',
      'job 14 done on node-a',
      // A shape met often enough to be checked by a pattern: a digit in its key is a digit only.
      ...Array.from({ length: 20 }, (_, i) => `${10 + i} ${50 + i}`),
      'ab cd',
    ];
    for (const name of ['HDFS', 'Hadoop', 'OpenStack', 'Spark', 'Zookeeper']) {
      const text = await readFile(path.join(FIXTURES, '..', 'loghub', name, `${name}_2k.log`), 'utf8');
      messages.push(...text.split('\n').map((line) => line.split(': ').slice(1).join(': ')));
    }
    const remembered = new Drain();
    const plain = new Drain();
    for (const [i, m] of messages.entries()) {
      const level = i % 3 === 0 ? 'ERROR' : null;
      const time = `2025-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`;
      assert.equal(
        remembered.add(m, level, keyOfIso(time)),
        plain.addTokens(maskTokens(m), 1, level ? { [level]: 1 } : {}, time, time),
        m,
      );
    }
    assert.deepEqual(remembered.clusters, plain.clusters);
    assert.ok(remembered.clusters.filter((c) => c.tokens.every((t) => t === '<*>')).length >= 3);
  });

  it('reads the common timestamp layout without a regular expression, as the layout does', () => {
    const cases: [string, string | null][] = [
      ['2015-10-18 18:01:47,978', '2015-10-18T18:01:47.978Z'],
      ['2015-10-18T18:01:47', '2015-10-18T18:01:47.000Z'],
      ['2015-10-18 18:01:47.1', '2015-10-18T18:01:47.100Z'],
      ['2015-10-18 18:01:47.123456', '2015-10-18T18:01:47.123Z'],
      ['2015-10-18 18:01:60', '2015-10-18T18:01:60.000Z'],
      ['2015-10-18 18:01:47Z', '2015-10-18T18:01:47.000Z'],
      ['2015-10-18 18:01:47.5+02:00', '2015-10-18T16:01:47.500Z'],
      ['2015/10/18 18:01:47', '2015-10-18T18:01:47.000Z'],
      ['2015-13-18 18:01:47', null],
      ['2015-10-18 24:01:47', null],
      ['2015-10-18 18:01:47,', null],
      ['2015-10-18 18:01:4x', null],
    ];
    for (const [text, iso] of cases) assert.equal(parseTime(text, 2025), iso, text);
    // The second read last is remembered: what follows it in the same second is read as any other.
    const sameSecond: [string, string | null][] = [
      ['2015-10-18 18:01:47,978', '2015-10-18T18:01:47.978Z'],
      ['2015-10-18 18:01:47', '2015-10-18T18:01:47.000Z'],
      ['2015-10-18 18:01:47.12', '2015-10-18T18:01:47.120Z'],
      ['2015-10-18 18:01:47+02:00', '2015-10-18T16:01:47.000Z'],
      ['2015-10-18 18:01:47,', null],
      ['2015-10-18 18:01:47,9x', null],
      ['2015-10-18T18:01:47,5', '2015-10-18T18:01:47.500Z'],
      ['2015-10-18 18:01:48,001', '2015-10-18T18:01:48.001Z'],
    ];
    for (const [text, iso] of sameSecond) assert.equal(parseTime(text, 2025), iso, text);
  });

  it('compares times by keys that sort as their ISO texts do and give those texts back', () => {
    const written = [
      '0000-01-01 00:00:00',
      '0999-12-31 23:59:59.999',
      '2015-02-31 00:00:00',
      '2015-03-01 00:00:00',
      '2015-10-18 18:01:59.999',
      '2015-10-18 18:01:60',
      '2015-10-18 18:02:00',
      '2015-10-18T16:01:47.5+02:00',
      'Oct 18 18:01:47.25',
      '1445191307',
      '1445191307123',
      '9999-12-31 23:59:59.999',
    ];
    const keys = written.map((text) => timeKey(text, 2025));
    const isos = written.map((text) => parseTime(text, 2025) as string);
    for (const [i, k] of keys.entries()) {
      assert.ok(k >= 0, written[i]);
      assert.equal(isoOfKey(k), isos[i]);
      assert.equal(keyOfIso(isos[i]), k);
    }
    for (const [i, a] of keys.entries())
      for (const [j, b] of keys.entries()) {
        const [x, y] = [isos[i] as string, isos[j] as string];
        assert.equal(Math.sign(a - b), x < y ? -1 : x > y ? 1 : 0, `${x} against ${y}`);
      }
    assert.equal(timeKey('10000-01-01 00:00:00'), -1);
    assert.equal(keyOfIso('2015-10-18 18:01:47'), -1);
    assert.equal(isoOfKey(-1), null);
  });

  it('reads whole chunks of valid UTF-8 at once, and invalid ones line by line', async () => {
    const lines: string[] = [];
    let invalid = 0;
    const chunks = [
      Buffer.from('open\n\nmid'),
      Buffer.concat([Buffer.from('dle\nbad '), Buffer.from([0xe9]), Buffer.from('\nok\r\n')]),
      Buffer.from('caf\u00e9\nlast'),
    ];
    await readLines(
      Readable.from(chunks),
      {
        line: (text, n) => lines.push(`${n}:${text}`),
        skipLongLine: () => assert.fail('no line is long'),
        invalidUtf8: () => {
          invalid += 1;
        },
        skipFile: (reason) => assert.fail(reason),
      },
      1 << 20,
    );
    assert.deepEqual(lines, ['1:open', '2:', '3:middle', '4:bad \ufffd', '5:ok\r', '6:caf\u00e9', '7:last']);
    assert.equal(invalid, 1);
  });

  it('skips every line longer than maxLine bytes, within a chunk or across chunks, counting bytes not characters', async () => {
    const seen: string[] = [];
    let long = 0;
    const sink = {
      line: (text: string, n: number) => seen.push(`${n}:${text.length}`),
      skipLongLine: () => {
        long += 1;
      },
      invalidUtf8: () => assert.fail('all valid'),
      skipFile: (reason: string) => assert.fail(reason),
    };
    // maxLine 12: 12 bytes pass, 13 do not; 'é' is 2 bytes, so 7 of them (14 bytes, 7 characters) are long.
    const text = `${'a'.repeat(12)}\n${'b'.repeat(13)}\n${'é'.repeat(6)}\n${'é'.repeat(7)}\nend\n`;
    for (const size of [text.length * 2, 5, 1]) {
      seen.length = 0;
      long = 0;
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      await readLines(Readable.from(chunks), sink, 12);
      assert.deepEqual(seen, ['1:12', '3:6', '5:3'], `chunks of ${size}`);
      assert.equal(long, 2, `chunks of ${size}`);
    }
    // A chunk of many lines is read in pieces: every line once, in order, numbered.
    seen.length = 0;
    long = 0;
    const many = Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 17)}`);
    const big = Buffer.from(`${many.join('\n')}\n`);
    await readLines(Readable.from([big.subarray(0, 400_000), big.subarray(400_000)]), sink, 1 << 20);
    assert.equal(seen.length, many.length);
    assert.deepEqual(
      seen,
      many.map((line, i) => `${i + 1}:${line.length}`),
    );
  });

  it('copies only lines with escapes, carriage returns or backspaces to show them', () => {
    assert.equal(shownText('plain line'), 'plain line');
    assert.equal(shownText('\x1b[31mred\x1b[0m'), 'red');
    assert.equal(shownText('10%\r50%\r100%'), '100%');
    assert.equal(shownText('ab\bc'), 'ac');
  });

  it('folds endpoint segments by a character scan before the id patterns', () => {
    assert.equal(endpointOf('GET', '/api/v2/users/0042/'), 'GET /api/v2/users/{id}/');
    // A UUID needs no digit: a segment with a dash still meets the patterns.
    assert.equal(endpointOf('PUT', '/x/abcdefab-abcd-abcd-abcd-abcdefabcdef/y-z'), 'PUT /x/{id}/y-z');
    assert.equal(endpointOf('GET', '/blob/deadbeef01/a1b2c3d4e5f6g7h8i9'), 'GET /blob/{id}/{id}');
    assert.equal(endpointOf(null, 'https://h.example/a//b?q=1#f'), '* /a//b');
    assert.equal(endpointOf('GET', '/12\n'), 'GET /12\n');
    assert.equal(endpointOf('GET', '/a/7/b/8?x=/9#/10'), 'GET /a/{id}/b/{id}');
    assert.equal(endpointOf('GET', '/a#f?q'), 'GET /a');
    assert.equal(endpointOf('GET', '123/x/'), 'GET {id}/x/');
    assert.equal(endpointOf('GET', ''), 'GET /');
    assert.equal(endpointOf('GET', '/v1/orders'), 'GET /v1/orders');
  });

  it('runs named groups by position: the same matches, the same groups', () => {
    const source = String.raw`(?<a>x)(?:y)(z)[(<]\((?<b>\(?<n>)(?<!q)(?<c>w)?`;
    const { pattern, at } = positional(source, 'i');
    assert.deepEqual(at, { a: 1, b: 3, c: 4 });
    const matched = ['xyz((<n>w', 'XYZ<((<n>', 'xyz(q'].map((text) => {
      const named = new RegExp(source, 'i').exec(text);
      const plain = pattern.exec(text);
      assert.equal(plain?.[0], named?.[0], text);
      if (plain && named) assert.deepEqual(groupsOf(plain, at), { ...named.groups });
      return plain?.[3] ?? null;
    });
    assert.deepEqual(matched, ['<n>', '(<n>', null]);
  });

  it('reads log4j headers by hand exactly as the pattern reads them, or leaves them to it', async () => {
    const parts = [
      ['', '', '', '['],
      [
        '2015-10-18 18:01:47,978',
        '2015-10-18T18:01:47',
        '2015-10-18 18:01:47.1234567',
        '2015-10-18 18:01:47.',
        '2015-10-18 18:01:47Z',
        '2015-10-18 18:01:47+02:00',
        '2015/10/18 18:01:47',
        '15/10/18 18:01:47',
        '2015-10-18 18:01:4',
        '2015-1a-18 18:01:47',
      ],
      [' ', ' ', '  ', '\t', '] ', ' 1234 ', ' - ', '', ' \u00a0'],
      ['INFO', 'INFO', 'WARNING', 'WARN', 'INFOS', 'FINEST', 'info', '[ERROR]', 'ERROR:', 'CRIT', 'XYZ', ''],
      [' ', ' ', '  ', '\t', '', ': ', ' \u3000'],
      ['', '', '[main] ', '[main]', '[a[b]c] ', '[open ', '[x]\t', '[x]  '],
      [
        '',
        'com.acme.Api: ',
        'com.acme.Api:',
        'Api:\tx ',
        'Api:  ',
        'in Foo: ',
        'in: ',
        'inner: ',
        'Foo@12: ',
        'http://x ',
        '- ',
        '-x ',
        'Api:x ',
        '$weird-name.v2: ',
        '9lives: ',
      ],
      ['RESPONSE GET /x 200', '', ' lead', '\tlead', 'a\rb', 'a\u2028b', 'ünïcode ok', 'x: y [z]', 'end  '],
    ];
    let state = 7;
    const pick = (options: string[]) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return options[(state >>> 12) % options.length] as string;
    };
    const lines: string[] = [
      '2015-10-18 18:01:47,978 INFO [main] Foo@12: hello',
      '2015-10-18 18:01:47,978 INFO [a[b]c] com.acme.Api: hello',
      '2015-10-18 18:01:47,978 INFO [open com.acme.Api: hello',
      '2015-10-18 18:01:47,978 INFO in Foo: hello',
      '2015-10-18 18:01:47,978 INFO Api:\thello',
      '2015-10-18 18:01:47,978 INFO Api:',
      '2015-10-18 18:01:47,978 INFO - hello',
    ];
    for (let i = 0; i < 30_000; i++) lines.push(parts.map(pick).join(''));
    for (const name of ['Hadoop', 'Spark', 'Zookeeper', 'HDFS', 'OpenStack']) {
      const text = await readFile(path.join(FIXTURES, '..', 'loghub', name, `${name}_2k.log`), 'utf8');
      lines.push(...text.split('\n'), ...text.split(/\r?\n/));
    }
    const byHand = { header: 0, none: 0 };
    for (const line of lines) {
      const read = log4jHeader(line);
      // Read by hand, a header brings its time's key along: the key its time text has.
      const parsed = parseHeader(line, 'log4j');
      const { key, ...header } = parsed ?? {};
      assert.deepEqual(parsed ? header : null, headerByPattern(line, 'log4j'), JSON.stringify(line));
      if (read) assert.equal(key, timeKey(read.time ?? undefined), JSON.stringify(line));
      if (read) byHand.header += 1;
      else if (read === null) byHand.none += 1;
    }
    // Thousands of headers and of non-headers were read by hand: the comparison covers that path.
    assert.ok(byHand.header > 2000 && byHand.none > 2000, JSON.stringify(byHand));
  });

  it('normalises a level word the same the second time (remembered)', () => {
    for (let i = 0; i < 2; i++) {
      assert.equal(normaliseLevel(' warn '), 'WARNING');
      assert.equal(normaliseLevel('trace3'), 'TRACE');
      assert.equal(normaliseLevel('50'), 'ERROR');
      assert.equal(normaliseLevel('banana'), null);
    }
  });
});
