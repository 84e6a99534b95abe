// The launchers (the spawner, shells): every byte of an argument reaches the child as it was
// (nothing is shell syntax), statuses and signals read as Node reports them, process groups as
// with `detached`. The spawner is built by `npm run build` (npm test builds first).
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
for (const mode of ['spawner', 'bash', 'setsid', 'direct'] as const) {
  describe(mode === 'direct' ? 'children spawned directly' : `launcher through ${mode}`, () => {
    const shell = mode === 'bash' || mode === 'setsid';
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
        assert.ok(
          launcher,
          `${mode}: built (dist/spawner), or bash 5.1+, sh and setsid on this machine's PATH`,
        );
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

    test(`a command that exits 147 (128 + SIGSTOP) itself ends, ${shell ? 'read as shells read it' : 'exactly'}`, async () => {
      const { end } = await run(['sh', '-c', 'exit 147']);
      assert.equal(shell ? end.signal : end.exitCode, shell ? 'SIGSTOP' : 147);
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

    test('a script without a #! line is run by /bin/sh, as execvp runs it', async () => {
      const script = path.join(dir, `no-shebang-${mode}`);
      writeFileSync(script, 'echo "plain script: $1"\n', { mode: 0o755 });
      const { end, stdout } = await run([script, 'its arg']);
      assert.equal(end.exitCode, 0);
      assert.equal(stdout, 'plain script: its arg\n');
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
      assert.equal((await run(['echo', 'after'])).stdout, 'after\n', 'the launcher still serves');
    });

    if (mode !== 'direct')
      test(`a ${shell ? 'launcher shell' : 'spawner'} that dies fails its child loudly and stops the child`, async () => {
        const child = run(['sh', '-c', 'echo $$; sleep 30']);
        await new Promise((r) => setTimeout(r, 300));
        const file = path.join(dir, `${n}.out`);
        const pid = Number(readFileSync(file, 'utf8').trim());
        const parent = Number(
          execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim(),
        );
        process.kill(parent, 'SIGKILL');
        await assert.rejects(child, shell ? /launcher shell ended/ : /the spawner ended/);
        const deadline = Date.now() + 2000;
        while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(groupAlive(pid), false, 'the orphaned child was stopped');
        assert.equal((await run(['echo', 'next'])).stdout, 'next\n', 'a new one takes over');
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

    test('launchers are reused: a hundred children need no more of them than ran at once', async () => {
      const before = children();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 25; i += 1) assert.equal((await run(['true'])).end.exitCode, 0);
        }),
      );
      assert.ok(children() <= before + 4, `${children()} children of the test process, ${before} before`);
    });

    if (mode === 'spawner') {
      test('the spawner measures each child: its peak memory and CPU time, from wait4', async () => {
        const { end } = await run([
          process.execPath,
          '-e',
          'Buffer.alloc(96 * 2 ** 20, 1); let x = 0; for (let i = 0; i < 3e7; i++) x += i;',
        ]);
        assert.equal(end.exitCode, 0);
        assert.ok((end.peakRssBytes ?? 0) >= 96 * 2 ** 20, `peak ${end.peakRssBytes}`);
        assert.ok((end.cpuMs ?? 0) > 5, `cpu ${end.cpuMs} ms`);
      });

      test("the spawner makes the output files' folder when it is missing", async () => {
        const nested = path.join(dir, 'not', 'yet', 'there');
        const end = await runChild(
          {
            argv: ['sh', '-c', 'echo made; echo oops >&2'],
            stdoutFile: path.join(nested, 'stdout'),
            stderrFile: path.join(nested, 'stderr'),
            graceMs: 200,
            signal: new AbortController().signal,
          },
          launcher,
        );
        assert.equal(end.exitCode, 0);
        assert.equal(readFileSync(path.join(nested, 'stdout'), 'utf8'), 'made\n');
        assert.equal(readFileSync(path.join(nested, 'stderr'), 'utf8'), 'oops\n');
      });

      test('an output file that cannot be opened fails the attempt, not as a missing command', async () => {
        const error = await runChild(
          {
            argv: ['echo', 'never'],
            stdoutFile: dir, // a folder
            stderrFile: path.join(dir, 'never.err'),
            graceMs: 200,
            signal: new AbortController().signal,
          },
          launcher,
        ).catch((e: NodeJS.ErrnoException) => e);
        assert.ok(error instanceof Error);
        assert.match(error.message, /cannot open the command's stdout file \(EISDIR\)/);
        assert.equal((error as NodeJS.ErrnoException).code, undefined);
      });

      test('told goodbye, a spawner lets its running children end, and still reports their ends', async () => {
        const own = Launcher.create(process.env, 'spawner');
        assert.ok(own);
        const out = path.join(dir, 'goodbye.out');
        const launched = await own.launch({
          argv: ['/bin/sh', '-c', 'sleep 0.3; echo ended on its own'],
          stdoutFile: out,
          stderrFile: path.join(dir, 'goodbye.err'),
          env: {},
        });
        own.close();
        assert.deepEqual(await launched.exit.then((e) => [e.exitCode, e.signal]), [0, null]);
        assert.equal(readFileSync(out, 'utf8'), 'ended on its own\n');
      });
    }
  });
}
