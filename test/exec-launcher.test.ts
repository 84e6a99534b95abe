// The launcher shells: every byte of an argument reaches the child as it was (nothing is shell
// syntax), statuses and signals read as Node reports them, process groups as with `detached`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { runChild } from '../src/tasks/exec/child.js';
import { Launcher, readStatus, resolveCommand } from '../src/tasks/exec/launcher.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sluice-launcher-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// 'direct': Node's own spawn, what runs where no launcher can (and the same contract holds).
for (const mode of ['bash', 'setsid', 'direct'] as const) {
  describe(mode === 'direct' ? 'children spawned directly' : `launcher through ${mode}`, () => {
    const launcher = mode === 'direct' ? undefined : Launcher.create(process.env, mode);
    after(() => launcher?.close());

    let n = 0;
    async function run(
      argv: string[],
      extraEnv: Record<string, string> = {},
      signal = new AbortController().signal,
    ) {
      n += 1;
      const stdoutFile = path.join(dir, `${n}.out`);
      const stderrFile = path.join(dir, `${n}.err`);
      const end = await runChild({ argv, stdoutFile, stderrFile, extraEnv, graceMs: 200, signal }, launcher);
      return { end, stdout: readFileSync(stdoutFile, 'utf8'), stderr: readFileSync(stderrFile, 'utf8') };
    }

    if (mode !== 'direct')
      test('the launcher exists here, in the mode asked for', () => {
        assert.ok(launcher, `${mode}: bash 5.1+, sh and setsid are on this machine's PATH`);
        assert.equal(launcher.mode, mode);
      });

    test('a child stopped and continued is waited for to its end', async () => {
      const child = run(['sh', '-c', 'kill -STOP $$; echo resumed']);
      await new Promise((r) => setTimeout(r, 300));
      const stopped = execFileSync('pgrep', ['-f', 'kill -STOP [$][$]; echo resumed'], { encoding: 'utf8' })
        .trim()
        .split('\n');
      for (const pid of stopped) process.kill(Number(pid), 'SIGCONT');
      const { end, stdout } = await child;
      assert.equal(end.exitCode, 0);
      assert.equal(stdout, 'resumed\n');
    });

    test('a command that exits 147 (128 + SIGSTOP) itself ends, read as shells read it', async () => {
      const { end } = await run(['sh', '-c', 'exit 147']);
      assert.equal(mode === 'direct' ? end.exitCode : end.signal, mode === 'direct' ? 147 : 'SIGSTOP');
    });

    test('arguments reach the child byte for byte, whatever shell syntax they hold', async () => {
      const hostile = [
        "it's",
        '$(touch pwned)',
        '`id`',
        'a\nb',
        '"; exit 3; "',
        "'\\''",
        '*',
        ' lead and trail ',
        '',
        'ünïcødé ✓',
        '$HOME',
      ];
      const { end, stdout } = await run(['printf', '%s\\0', ...hostile]);
      assert.equal(end.exitCode, 0);
      assert.deepEqual(stdout.split('\0').slice(0, -1), hostile);
    });

    test('the item environment is added, the rest inherited', async () => {
      const { stdout } = await run(['sh', '-c', 'echo "$SLUICE_ID|$PATH"'], { SLUICE_ID: "x 'y' $z" });
      assert.equal(stdout, `x 'y' $z|${process.env.PATH}\n`);
    });

    test('exit codes and signals read as Node reports them', async () => {
      assert.equal((await run(['sh', '-c', 'exit 7'])).end.exitCode, 7);
      const killed = await run(['sh', '-c', 'kill -TERM $$']);
      assert.equal(killed.end.exitCode, null);
      assert.equal(killed.end.signal, 'SIGTERM');
      assert.deepEqual(readStatus(0), { exitCode: 0, signal: null });
      assert.deepEqual(readStatus(137), { exitCode: null, signal: 'SIGKILL' });
      assert.deepEqual(readStatus(255), { exitCode: 255, signal: null });
    });

    test('each child leads a process group of its own, and a stop ends the whole group', async () => {
      const stop = new AbortController();
      const pgid = run(['sh', '-c', 'ps -o pgid= -p $$; sleep 30 & sleep 30'], {}, stop.signal);
      setTimeout(() => stop.abort(), 300);
      const { end, stdout } = await pgid;
      assert.equal(end.stopped, true);
      const group = Number(stdout.trim());
      assert.ok(group > 0 && group !== process.pid, stdout);
      // The grandchild `sleep 30` was in the group: it is gone (killed processes take a moment to be reaped).
      const deadline = Date.now() + 2000;
      while (groupAlive(group) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(groupAlive(group), false, `process group ${group} still has processes`);
    });

    test('a NUL byte in a word is refused, never dropped', async () => {
      await assert.rejects(run(['echo', 'a\0b']), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.equal((await run(['echo', 'after'])).stdout, 'after\n', 'the shell still serves');
    });

    if (mode !== 'direct')
      test('a launcher shell that dies fails its child loudly and stops the child', async () => {
        const child = run(['sh', '-c', 'echo $$; sleep 30']);
        await new Promise((r) => setTimeout(r, 300));
        const file = path.join(dir, `${n}.out`);
        const pid = Number(readFileSync(file, 'utf8').trim());
        const shell = Number(
          execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim(),
        );
        process.kill(shell, 'SIGKILL');
        await assert.rejects(child, /launcher shell ended/);
        const deadline = Date.now() + 2000;
        while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(groupAlive(pid), false, 'the orphaned child was stopped');
        assert.equal((await run(['echo', 'next'])).stdout, 'next\n', 'a new shell takes over');
      });

    test('a missing or non-executable command is refused as spawn refuses it', () => {
      assert.throws(() => resolveCommand('no-such-command-here', process.env.PATH), { code: 'ENOENT' });
      const plain = path.join(dir, 'not-executable');
      writeFileSync(plain, 'echo hi\n', { mode: 0o644 });
      assert.throws(() => resolveCommand(plain, process.env.PATH), { code: 'EACCES' });
      assert.equal(resolveCommand('sh', '/nowhere:/bin'), '/bin/sh');
    });

    function groupAlive(pgid: number): boolean {
      try {
        process.kill(-pgid, 0);
        return true;
      } catch {
        return false;
      }
    }

    /** Live processes whose parent is this test (pgrep exits 1 when there are none). */
    function children(): number {
      try {
        return Number(execFileSync('pgrep', ['-c', '-P', String(process.pid)], { encoding: 'utf8' }));
      } catch {
        return 0;
      }
    }

    test('shells are reused: a hundred children need no more shells than ran at once', async () => {
      const before = children();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 25; i += 1) assert.equal((await run(['true'])).end.exitCode, 0);
        }),
      );
      assert.ok(children() <= before + 4, `${children()} children of the test process, ${before} before`);
    });
  });
}
