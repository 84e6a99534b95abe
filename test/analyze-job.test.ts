// `sluice analyze --store`: the files as a resumable job. Its analysis is exactly the one read
// straight from the files, a second run reads nothing again, a changed file replaces its own
// result (never counted twice), and a run killed with SIGKILL resumes without losing or
// double-counting a file. Real CLI processes and a real SQLite file.
import assert from 'node:assert/strict';
import { appendFile, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { finished, sluice, start } from './support/cli.js';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures', 'analyze');

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-analyze-job-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function json(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; report: unknown; stderr: string }> {
  const run = await sluice([...args, '--format', 'json'], { cwd });
  return { code: run.code, report: run.stdout ? JSON.parse(run.stdout) : null, stderr: run.stderr };
}

function doneItems(db: string): number {
  try {
    const open = new Database(db, { readonly: true, fileMustExist: true });
    try {
      return (open.prepare("SELECT count(*) AS n FROM items WHERE state = 'done'").get() as { n: number }).n;
    } finally {
      open.close();
    }
  } catch {
    return 0; // not created yet, or busy: ask again
  }
}

describe('analyze --store', () => {
  it('gives the analysis read straight from the files; run again, it reads nothing; a changed file replaces its result', async () => {
    const cwd = await mkdtemp(path.join(dir, 'same-'));
    await cp(FIXTURES, path.join(cwd, 'logs'), { recursive: true });
    const direct = await json(['analyze', 'logs'], cwd);
    assert.equal(direct.code, 0);
    const job = await json(['analyze', 'logs', '--store', 'a.db'], cwd);
    assert.equal(job.code, 0, job.stderr);
    // NaN losses of a training run too: they survive the store.
    assert.deepEqual(job.report, direct.report);
    assert.match(job.stderr, /12 of 12 files analysed \(12 in this run\)/);

    const again = await json(['analyze', 'logs', '--store', 'a.db'], cwd);
    assert.match(again.stderr, /12 of 12 files analysed \(0 in this run\)/);
    assert.deepEqual(again.report, direct.report);

    await appendFile(
      path.join(cwd, 'logs', 'python-app.log'),
      '2025-03-02 10:06:00,000 - app - ERROR - CUDA out of memory\n',
    );
    const changed = await json(['analyze', 'logs', '--store', 'a.db'], cwd);
    assert.match(changed.stderr, /12 of 12 files analysed \(1 in this run\)/);
    assert.deepEqual(changed.report, (await json(['analyze', 'logs'], cwd)).report);

    // The job's report, from the store alone.
    const report = await json(['report', '--store', 'a.db', '--job', 'analyze:logs'], cwd);
    assert.equal(report.code, 0, report.stderr);
    assert.deepEqual(report.report, changed.report);
    const html = await sluice(['report', '--store', 'a.db', '--format', 'html'], { cwd });
    assert.equal(html.code, 0, html.stderr);
    assert.match(html.stdout, /health \(grade [A-F]\)/, "the analyze page's sections are in the job's page");
    assert.match(html.stdout, /<svg/);
  });

  it('killed with SIGKILL midway, the same command resumes: every file counted once', async () => {
    const cwd = await mkdtemp(path.join(dir, 'kill-'));
    const logs = path.join(cwd, 'logs');
    await mkdir(logs);
    const line = (f: number, i: number) =>
      `2025-03-02 10:${String(i % 60).padStart(2, '0')}:00,000 - app.${f} - ${i % 7 === 0 ? 'ERROR' : 'INFO'} - request ${i} took ${i % 300} ms for user ${f * 1000 + i}\n`;
    for (let f = 0; f < 80; f += 1) {
      await writeFile(
        path.join(logs, `app-${String(f).padStart(3, '0')}.log`),
        Array.from({ length: 4000 }, (_, i) => line(f, i)).join(''),
      );
    }
    const db = path.join(cwd, 'a.db');
    const args = ['analyze', 'logs', '--store', 'a.db', '--workers', '0', '--format', 'json'];
    const first = start(args, { cwd });
    const ended = finished(first);
    const deadline = Date.now() + 60_000;
    while (doneItems(db) < 5) {
      assert.ok(Date.now() < deadline, 'no file was committed within a minute');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    first.kill('SIGKILL');
    await ended;
    const kept = doneItems(db);
    assert.ok(kept >= 5 && kept < 80, `${kept} files were done at the kill`);

    const resumed = await json(args.slice(0, -2), cwd);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`80 of 80 files analysed \\(${80 - kept} in this run\\)`));
    const direct = await json(['analyze', 'logs', '--workers', '0'], cwd);
    assert.deepEqual(resumed.report, direct.report);
    assert.equal((resumed.report as { events: number }).events, 80 * 4000);
  });

  it('refuses what it cannot resume, before anything runs (exit 2)', async () => {
    const cwd = await mkdtemp(path.join(dir, 'usage-'));
    await cp(FIXTURES, path.join(cwd, 'logs'), { recursive: true });
    const structured = await sluice(['analyze', 'logs', '--store', 'a.db', '--structured', 'e.csv'], { cwd });
    assert.equal(structured.code, 2);
    assert.match(structured.stderr, /--structured .* leave out --store/);
    const jobOnly = await sluice(['analyze', 'logs', '--job', 'x'], { cwd });
    assert.equal(jobOnly.code, 2);
    assert.match(jobOnly.stderr, /--job names a job in a store: give --store too/);
    assert.equal((await sluice(['analyze', 'logs', '--store', 'a.db'], { cwd })).code, 0);
    const other = await sluice(['analyze', 'logs', '--store', 'a.db', '--similarity', '0.7'], { cwd });
    assert.equal(other.code, 2);
    assert.match(other.stderr, /already exists .* pick another name with --job/);
  });
});
