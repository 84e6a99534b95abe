// `sluice analyze --follow`: alert rules on a fake clock, and a real follower that sees appended
// lines and a rotated file and raises its alerts within 2 s, running the --on-alert command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlertEngine, parseAlertRule, splitCommand } from '../src/analyze/alerts.js';
import { CLI } from './support/cli.js';

const event = (level: 'ERROR' | 'INFO' | 'CRITICAL', category: 'gpu' | null = null) => ({
  file: 'a.log',
  line: 1,
  level,
  category,
  message: 'x',
});

describe('analyze alert rules', () => {
  it('fires a rate rule when more than N events at the level or above fall in the window, once per interval', () => {
    let now = 0;
    const engine = new AlertEngine([parseAlertRule('ERROR>2/min')], 60_000, () => now);
    assert.equal(engine.event(event('ERROR')).length, 0);
    assert.equal(engine.event(event('INFO')).length, 0);
    assert.equal(engine.event(event('CRITICAL')).length, 0);
    now = 1000;
    assert.equal(engine.event(event('ERROR')).length, 1); // third in the window
    assert.equal(engine.event(event('ERROR')).length, 0); // rate-limited
    now = 200_000; // the old events left the window
    assert.equal(engine.event(event('ERROR')).length, 0);
  });

  it('fires a category rule on an error of that category', () => {
    const engine = new AlertEngine([parseAlertRule('category=gpu')], 0, () => 0);
    assert.equal(engine.event(event('ERROR')).length, 0);
    assert.equal(engine.event(event('ERROR', 'gpu'))[0]?.rule, 'category=gpu');
  });

  it('refuses rules it cannot read, and splits commands without a shell', () => {
    assert.throws(() => parseAlertRule('ERRORS>5'), /expected a rule like/);
    assert.throws(() => parseAlertRule('category=toaster'), /category is one of/);
    assert.deepEqual(parseAlertRule('WARN>100/5min'), {
      text: 'WARN>100/5min',
      kind: 'rate',
      level: 'WARNING',
      threshold: 100,
      windowMs: 300_000,
    });
    assert.deepEqual(splitCommand(`notify "disk full" 'a b' c`), ['notify', 'disk full', 'a b', 'c']);
  });
});

describe('sluice analyze --follow', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-follow-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('raises alerts within 2 s for appended lines, after the file is rotated and after it is truncated', async () => {
    const log = path.join(dir, 'app.log');
    const marker = path.join(dir, 'alerted');
    await writeFile(log, '2025-03-02 10:00:00,000 ERROR [main] a.B: old error, before following\n');
    const child = spawn(
      process.execPath,
      [
        CLI,
        'analyze',
        log,
        '--follow',
        '--alert',
        'ERROR>2/min',
        '--alert',
        'category=gpu',
        '--alert',
        'category=disk',
        '--alert-every',
        '1s',
        '--on-alert',
        `${process.execPath} -e "require('fs').appendFileSync(process.argv[1], process.env.SLUICE_ALERT_RULE + ';')" ${marker}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
    const waitFor = async (what: () => boolean, label: string, ms = 2000) => {
      const start = Date.now();
      while (!what()) {
        if (Date.now() - start > ms)
          assert.fail(`${label} not within ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return Date.now() - start;
    };
    try {
      await waitFor(() => stderr.includes('following 1 file'), 'start', 10_000);
      assert.doesNotMatch(stdout, /ALERT/, 'lines already in the file raise no alert');

      const line = (n: number, text: string) => `2025-03-02 10:00:0${n},000 ERROR [main] a.B: ${text}\n`;
      await appendFile(log, line(1, 'first') + line(2, 'second') + line(3, 'third'));
      const rate = await waitFor(() => /ALERT \S+ \[ERROR>2\/min\]/.test(stdout), 'the rate alert');
      console.log(`rate alert after ${rate} ms`);

      await rename(log, `${log}.1`);
      await writeFile(log, line(4, 'CUDA out of memory. Tried to allocate 2.00 GiB'));
      const gpu = await waitFor(
        () => /ALERT \S+ \[category=gpu\] gpu error at .*app\.log:1:/.test(stdout),
        'the gpu alert after rotation',
      );
      console.log(`gpu alert after rotation in ${gpu} ms`);
      await waitFor(() => /category=gpu/.test(String(safeRead(marker))), 'the --on-alert command');

      // Truncated in place (copytruncate): read again from the start.
      await writeFile(log, line(5, 'write failed: No space left on device'));
      const disk = await waitFor(
        () => /\[category=disk\] disk error at .*app\.log:1:/.test(stdout),
        'the disk alert after truncation',
      );
      console.log(`disk alert after truncation in ${disk} ms`);
      assert.match(await readFile(marker, 'utf8'), /ERROR>2\/min;/);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await closed, 0);
    assert.match(stdout, /sluice analyze: 1 file/, 'the final report on stop');
  });
});

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
