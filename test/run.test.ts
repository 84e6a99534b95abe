// `sluice run` as users run it: the built CLI on a real SQLite store, real children and real
// signals. A run killed with SIGKILL resumes where it stopped; what had committed never runs again.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/store/index.js';
import { safeId } from '../src/tasks/exec/safe-id.js';
import { finished, sluice, start, waitForEvent } from './support/cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-run-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A CSV field as RFC 4180 writes it. */
const quoted = (text: string) => `"${text.replaceAll('"', '""')}"`;
const note = (i: number) => `said "hi", then\nleft #${i}`;

/** Lines of a file, each counted: how many times each item's command ran. */
async function runsOf(file: string): Promise<Map<string, number>> {
  const runs = new Map<string, number>();
  for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n')) {
    if (line) runs.set(line, (runs.get(line) ?? 0) + 1);
  }
  return runs;
}

/** The file's text once a child has written a line to it (children run on their own: poll). */
async function whenWritten(file: string): Promise<string> {
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return text;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True while `pid` runs (a zombie waiting for its reaper counts as ended). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/\) Z /.test(stat);
}

async function doneIds(store: string, job: string): Promise<Set<string>> {
  const s = await openStore(store, { create: false, readOnly: true });
  try {
    return new Set((await s.listItems(job, { state: 'done', limit: 10_000 })).map((i) => i.id));
  } finally {
    await s.close();
  }
}

async function statusOf(cwd: string, store: string) {
  const r = await sluice(['status', '--store', store, '--json'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { items: Record<string, number> };
}

describe('sluice run', () => {
  it('killed with SIGKILL mid-run, the same command again runs every item; only items in hand at the kill ran twice', async () => {
    const cwd = await mkdtemp(path.join(dir, 'kill-'));
    const rows = Array.from({ length: 400 }, (_, i) => `item-${i},${quoted(note(i))}`);
    await writeFile(path.join(cwd, 'work.csv'), `WorkItemId,note\r\n${rows.join('\r\n')}\r\n`);
    const args = [
      'run',
      '--items',
      'work.csv',
      '--id-column',
      'WorkItemId',
      '--jobs',
      '4',
      '--max-attempts',
      '2',
      '--retry-delay',
      '1',
      '--progress',
      'json',
      '--',
      'sh',
      '-c',
      // The side effect that counts runs, the output that must hold the row's fields, and one item that always fails.
      'echo "$1" >> runs.log; printf "%s|%s" "$1" "$2"; sleep 0.02; [ "$1" != item-13 ] || { echo "item-13 is broken" >&2; exit 3; }',
      'sh',
      '{WorkItemId}',
      '{note}',
    ];
    const first = start(args, { cwd });
    let committed = 0;
    await waitForEvent(first, (e) => {
      if (e.event === 'commit') committed += Number(e.items);
      return committed >= 100;
    });
    first.kill('SIGKILL');
    const killed = await finished(first);
    assert.equal(killed.signal, 'SIGKILL');
    // Children of the killed run finish on their own (their own process groups): let them.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const store = path.join(cwd, 'sluice.db');
    const doneAtKill = await doneIds(store, 'run:work.csv');
    assert.ok(doneAtKill.size >= 100 && doneAtKill.size < 400, `${doneAtKill.size} done at the kill`);
    const runsAtKill = await runsOf(path.join(cwd, 'runs.log'));

    const second = await sluice(args, { cwd });
    assert.equal(second.code, 1, second.stderr); // item-13 failed
    const runs = await runsOf(path.join(cwd, 'runs.log'));
    for (let i = 0; i < 400; i++) assert.ok(runs.has(`item-${i}`), `item-${i} ran`);
    const twice = [...runs].filter(([id, n]) => id !== 'item-13' && n > 1).map(([id]) => id);
    for (const id of twice) {
      assert.ok(!doneAtKill.has(id), `${id} had committed before the kill, yet ran again`);
      assert.ok(runsAtKill.has(id), `${id} ran twice but was not in hand at the kill`);
    }
    assert.ok(twice.length <= 20, `${twice.length} items ran twice: only those in hand at the kill may`);
    const status = await statusOf(cwd, store);
    assert.deepEqual(
      { done: status.items.done, failed: status.items.failed, pending: status.items.pending },
      { done: 399, failed: 1, pending: 0 },
    );
    for (const i of [0, 13, 250, 399]) {
      const out = await readFile(path.join(cwd, 'sluice-out', safeId(`item-${i}`), 'stdout'), 'utf8');
      assert.equal(out, `item-${i}|${note(i)}`);
    }
    assert.match(second.stderr, /FAILED item-13 \(2 attempts\): exit code 3: item-13 is broken/);
    const report = await sluice(['report', '--format', 'json'], { cwd });
    const json = JSON.parse(report.stdout) as {
      items: Record<string, number>;
      exitCodes: Record<string, number>;
      durationMs: { count: number };
      failures: { id: string; exitCode: number; attempts: number; error: string }[];
    };
    assert.deepEqual(json.exitCodes, { '0': 399, '3': 1 });
    assert.equal(json.durationMs.count, 400);
    assert.deepEqual(
      json.failures.map((f) => [f.id, f.exitCode, f.attempts, f.error]),
      [['item-13', 3, 2, 'exit code 3: item-13 is broken']],
    );
  });

  // The spawner stands watch itself; with launcher shells (SLUICE_SPAWNER=0) a watchdog does.
  for (const [watch, env] of [
    ['its spawner', {}],
    ['its watchdog', { SLUICE_SPAWNER: '0' }],
  ] as const)
    it(`a sluice killed with SIGKILL leaves no command running: ${watch} stops their groups`, async () => {
      const cwd = await mkdtemp(path.join(dir, 'orphans-'));
      await writeFile(path.join(cwd, 'items.csv'), 'id\na\nb\n');
      const run = start(
        [
          'run',
          '--items',
          'items.csv',
          '--jobs',
          '2',
          '--kill-after',
          '1s',
          '--',
          'sh',
          '-c',
          'echo $$ > "$1/pid"; sleep 30',
          'sh',
          '{out}',
        ],
        { cwd, env },
      );
      const pids = await Promise.all(
        ['a', 'b'].map((id) => whenWritten(path.join(cwd, 'sluice-out', id, 'pid'))),
      );
      run.kill('SIGKILL');
      await finished(run);
      for (const pid of pids.map(Number)) {
        const deadline = Date.now() + 10_000;
        while (await alive(pid)) {
          assert.ok(Date.now() < deadline, `command ${pid} still runs 10 s after sluice was killed`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });

  it('the same command on a finished job runs nothing again; rows added since run alone', async () => {
    const cwd = await mkdtemp(path.join(dir, 'resume-'));
    await writeFile(path.join(cwd, 'items.jsonl'), '{"id": "a"}\n{"id": "b"}\n');
    const args = ['run', '--items', 'items.jsonl', '--', 'sh', '-c', 'echo "$1" >> runs.log', 'sh', '{id}'];
    assert.equal((await sluice(args, { cwd })).code, 0);
    const again = await sluice(args, { cwd });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing new to run/);
    await appendFile(path.join(cwd, 'items.jsonl'), '{"id": "c"}\n');
    assert.equal((await sluice(args, { cwd })).code, 0);
    assert.deepEqual(
      // a and b ran at once, in either order.
      [...(await runsOf(path.join(cwd, 'runs.log')))].sort(),
      [
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ],
    );
  });

  it('a timeout stops the whole process group and fails the item as timed out', async () => {
    const cwd = await mkdtemp(path.join(dir, 'timeout-'));
    await writeFile(path.join(cwd, 'one.jsonl'), '{"id": "slow"}\n');
    const r = await sluice(
      [
        'run',
        '--items',
        'one.jsonl',
        '--timeout',
        '300ms',
        '--kill-after',
        '1s',
        '--max-attempts',
        '1',
        '--',
        'sh',
        '-c',
        'sleep 30 & echo $! > "$1/grandchild"; sleep 30',
        'sh',
        '{out}',
      ],
      { cwd },
    );
    assert.equal(r.code, 1, r.stderr);
    const grandchild = Number(await readFile(path.join(cwd, 'sluice-out', 'slow', 'grandchild'), 'utf8'));
    const stat = await readFile(`/proc/${grandchild}/stat`, 'utf8').catch(() => '');
    assert.ok(stat === '' || /\) Z /.test(stat), 'the grandchild was stopped with its group');
    const report = await sluice(['report', '--format', 'json'], { cwd });
    const json = JSON.parse(report.stdout) as {
      timeouts: number;
      failures: { id: string; timedOut: boolean }[];
    };
    assert.equal(json.timeouts, 1);
    assert.deepEqual(
      json.failures.map((f) => [f.id, f.timedOut]),
      [['slow', true]],
    );
  });

  it('SIGINT stops the running commands and gives their items back; the next run finishes them', async () => {
    const cwd = await mkdtemp(path.join(dir, 'sigint-'));
    await writeFile(path.join(cwd, 'items.csv'), 'id\na\nb\nc\n');
    const args = ['run', '--items', 'items.csv', '--jobs', '3', '--progress', 'json', '--', 'sh', '-c'];
    const slow = start([...args, 'echo started >&2; sleep 30'], { cwd });
    // Wait until all three have written their first line (the children run on their own: poll their files).
    for (;;) {
      const started = await Promise.all(
        ['a', 'b', 'c'].map((id) =>
          readFile(path.join(cwd, 'sluice-out', id, 'stderr'), 'utf8').catch(() => ''),
        ),
      );
      if (started.every((t) => t.includes('started'))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const t0 = Date.now();
    slow.kill('SIGINT');
    const stopped = await finished(slow);
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.ok(Date.now() - t0 < 10_000, 'stopped within the grace, not after the 30 s sleeps');
    const status = await statusOf(cwd, path.join(cwd, 'sluice.db'));
    assert.deepEqual(
      { pending: status.items.pending, failed: status.items.failed },
      { pending: 3, failed: 0 },
      'given back without using an attempt',
    );
    const again = await sluice([...args, 'true'], { cwd });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await statusOf(cwd, path.join(cwd, 'sluice.db'))).items.done, 3);
  });

  it('refuses what cannot run, before anything starts (exit 2): unknown placeholders, repeated ids, a missing command', async () => {
    const cwd = await mkdtemp(path.join(dir, 'usage-'));
    await writeFile(path.join(cwd, 'ok.csv'), 'id,file\n1,a\n2,b\n');
    await writeFile(path.join(cwd, 'dup.csv'), 'id\n1\n2\n1\n');
    const unknown = await sluice(['run', '--items', 'ok.csv', '--', 'echo', '{File}'], { cwd });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown placeholder \{File\}.*Available: \{id\}, \{out\}, \{file\}/);
    const dup = await sluice(['run', '--items', 'dup.csv', '--', 'echo', '{id}'], { cwd });
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /repeated id: "1" on lines 2 and 4/);
    const missing = await sluice(['run', '--items', 'ok.csv', '--', './no-such-tool', '{id}'], { cwd });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /cannot start the command "\.\/no-such-tool"/);
    const status = await statusOf(cwd, path.join(cwd, 'sluice.db'));
    assert.equal(status.items.failed, 0, 'no item was failed for a command that cannot start');
  });
});
