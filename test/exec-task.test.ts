// The exec task as a specification, on real child processes and signals: argv without a shell,
// output kept per item, the whole process group stopped on a timeout, failures told apart.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ItemError, ItemRequeued, UsageError } from '../src/errors.js';
import type { LeasedItem } from '../src/store/types.js';
import { fillCommand, parseCommand } from '../src/tasks/exec/command.js';
import { createExecTask } from '../src/tasks/exec/index.js';
import { JOBLOG_HEADER } from '../src/tasks/exec/joblog.js';
import { safeId } from '../src/tasks/exec/safe-id.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-exec-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const item = (id: string, payload: Record<string, string> = {}, attempts = 0): LeasedItem => ({
  id,
  size: 0,
  payload: { id, ...payload },
  checkpoint: null,
  fence: 1,
  attempts,
});
const never = () => new AbortController().signal;

/** True while `pid` is a live process (a zombie waiting for its reaper counts as ended). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && !/\) Z /.test(stat);
}

/** The file's text once the child has written it (the child runs on its own: there is no event to wait on). */
async function whenWritten(file: string): Promise<string> {
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return text;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('placeholders', () => {
  test('are filled inside each argument; values are never split or interpreted', () => {
    const t = parseCommand(['tool', '--in={path}', 'id-{id}.txt', '{out}/x'], ['id', 'path']);
    assert.deepEqual(fillCommand(t, { id: 'a b', out: '/o', payload: { path: '$(touch pwned); "x"' } }), [
      'tool',
      '--in=$(touch pwned); "x"',
      'id-a b.txt',
      '/o/x',
    ]);
  });

  test('an unknown placeholder is a usage error naming it and what is available', () => {
    assert.throws(
      () => parseCommand(['echo', '{WorkItemID}'], ['WorkItemId']),
      (e: Error) =>
        e instanceof UsageError &&
        /unknown placeholder \{WorkItemID\}/.test(e.message) &&
        /\{WorkItemId\}/.test(e.message),
    );
    assert.throws(() => parseCommand(['echo', '{}'], []), UsageError);
  });

  test('{{ }} are literal braces, and braces around text with spaces stay as written', () => {
    const t = parseCommand(['awk', '{print $1}', '{{id}}', '{id}'], []);
    assert.deepEqual(fillCommand(t, { id: '7', out: '/o', payload: {} }), ['awk', '{print $1}', '{id}', '7']);
  });
});

describe('safe ids', () => {
  test('keep ordinary ids readable and encode everything else, so no two ids share a folder', () => {
    assert.equal(safeId('1889211721'), '1889211721');
    assert.equal(safeId('batch/01 é'), 'batch%2F01%20%C3%A9');
    assert.equal(safeId('50%'), '50%25');
    assert.equal(safeId('.'), '%2E');
    assert.equal(safeId('..'), '%2E%2E');
    assert.equal(safeId(''), '%');
    const ids = ['a/b', 'a%2Fb', 'a_b', 'A/B', '..', '%2E%2E', 'x'.repeat(500), `${'x'.repeat(499)}y`];
    const names = ids.map(safeId);
    assert.equal(new Set(names).size, ids.length);
    for (const n of names) assert.ok(n.length <= 200 && !n.includes('/'), n);
  });
});

describe('running an item', () => {
  test("stdout and stderr go to the item's folder; the outcome keeps exit code, duration and where", async () => {
    const task = createExecTask({
      command: ['sh', '-c', 'printf "%s|%s" "$1" "$SLUICE_ID"; echo warn >&2', 'sh', '{name}'],
      fields: ['id', 'name'],
      outputDir: dir,
    });
    const outcome = await task.run(item('w 1', { name: 'Smith, "J"' }), never());
    const out = path.join(dir, 'w%201');
    assert.deepEqual(outcome.result, { out });
    assert.equal(await readFile(path.join(out, 'stdout'), 'utf8'), 'Smith, "J"|w 1');
    assert.equal(await readFile(path.join(out, 'stderr'), 'utf8'), 'warn\n');
    assert.equal(outcome.metrics?.exitCode, 0);
    assert.equal(outcome.metrics?.timedOut, 0);
    assert.ok((outcome.metrics?.durationMs ?? -1) >= 0);
  });

  test('a non-zero exit fails the attempt with the last lines of stderr; listed codes are permanent', async () => {
    const task = createExecTask({
      command: ['sh', '-c', 'echo one >&2; echo "two: bad input" >&2; exit "$1"', 'sh', '{id}'],
      fields: [],
      outputDir: dir,
      noRetryExitCodes: new Set([2]),
    });
    const failure = (id: string) =>
      task.run(item(id), never()).then(
        () => assert.fail('should fail'),
        (e) => e,
      );
    const three = await failure('3');
    assert.ok(three instanceof ItemError);
    assert.equal(three.message, 'exit code 3: one | two: bad input');
    assert.equal(three.transient, true);
    assert.equal(three.detail?.metrics?.exitCode, 3);
    assert.deepEqual(three.detail?.result, { out: path.join(dir, '3') });
    const two = await failure('2');
    assert.equal(two.transient, false);
  });

  test('a timeout stops the whole process group, grandchildren included', async () => {
    const task = createExecTask({
      command: ['sh', '-c', 'sleep 30 & echo $! > "$1/grandchild"; sleep 30', 'sh', '{out}'],
      fields: [],
      outputDir: dir,
      timeoutMs: 300,
      graceMs: 1000,
    });
    const error = await task.run(item('slow'), never()).then(
      () => assert.fail('should time out'),
      (e) => e,
    );
    assert.ok(error instanceof ItemError);
    assert.match(error.message, /^timed out after 300 ms; its process group was stopped/);
    assert.equal(error.detail?.metrics?.timedOut, 1);
    const grandchild = Number(await readFile(path.join(dir, 'slow', 'grandchild'), 'utf8'));
    assert.ok(grandchild > 0);
    assert.equal(await alive(grandchild), false, 'the grandchild sleep was stopped too');
  });

  test('a command that cannot start stops the run (a usage error naming it), not the item', async () => {
    const task = createExecTask({ command: ['./no-such-tool', '{id}'], fields: [], outputDir: dir });
    await assert.rejects(
      task.run(item('x'), never()),
      (e: Error) => e instanceof UsageError && /"\.\/no-such-tool"/.test(e.message),
    );
  });

  test('interrupting gives the item back untouched (no attempt used) and stops its group', async () => {
    const task = createExecTask({
      command: ['sh', '-c', 'echo $$ > "$1/pid"; sleep 30', 'sh', '{out}'],
      fields: [],
      outputDir: dir,
      graceMs: 1000,
    });
    const running = task.run(item('held'), never());
    const pidFile = path.join(dir, 'held', 'pid');
    const pid = Number(await whenWritten(pidFile));
    task.interrupt('interrupted by SIGINT');
    await assert.rejects(
      running,
      (e: Error) => e instanceof ItemRequeued && e.message === 'interrupted by SIGINT',
    );
    assert.equal(await alive(pid), false);
  });

  test("--joblog appends one line per attempt in GNU parallel's format", async () => {
    const joblog = path.join(dir, 'joblog');
    const task = createExecTask({
      command: ['sh', '-c', 'echo hi; exit "$1"', 'sh', '{id}'],
      fields: [],
      outputDir: dir,
      joblog,
    });
    await task.run(item('0'), never());
    await task.run(item('4'), never()).catch(() => {});
    await task.close();
    const lines = (await readFile(joblog, 'utf8')).split('\n').filter(Boolean);
    assert.equal(`${lines[0]}\n`, JOBLOG_HEADER);
    const [seq, host, start, runtime, send, receive, exitval, signal, command] = (lines[2] as string).split(
      '\t',
    );
    assert.deepEqual([seq, host, send, receive, exitval, signal], ['2', ':', '0', '3', '4', '0']);
    assert.match(start as string, /^\d{10}\.\d{3}$/);
    assert.match(runtime as string, /^ *\d+\.\d{3}$/);
    assert.equal(command, 'sh -c \'echo hi; exit "$1"\' sh 4');
  });
});
