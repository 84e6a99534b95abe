// `sluice run` inside a real memory cgroup of 6 GiB, with no worker count given: 16 children
// that each hold 1 GiB for 2 s all finish, none is OOM-killed, and the cgroup never goes above
// 80 % of its limit, because the gate learns what one child costs and starts another only when it fits.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from './support/cli.js';

const GIB = 1024 ** 3;
const LIMIT = 6 * GIB;
/** cgroup v1's memory controller, as on these machines; v2 would be /sys/fs/cgroup/<name>. */
const V1 = '/sys/fs/cgroup/memory';

let dir: string;
let group: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-cgroup-'));
  assert.ok(
    existsSync(`${V1}/cgroup.procs`),
    `this test needs cgroup v1's memory controller at ${V1} (and root) to make a 6 GiB cgroup`,
  );
  group = path.join(V1, `sluice-test-${process.pid}`);
  await mkdir(group);
  await writeFile(path.join(group, 'memory.limit_in_bytes'), String(LIMIT));
});

after(async () => {
  await rmdir(group).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('sluice run in a 6 GiB memory cgroup', () => {
  it('runs 16 children of 1 GiB each with no worker count given: all finish, no OOM kill, never above 80 % of the limit', async () => {
    await writeFile(
      path.join(dir, 'items.csv'),
      `id\n${Array.from({ length: 16 }, (_, i) => i + 1).join('\n')}\n`,
    );
    // Each child fills 1 GiB (every page touched) and holds it for 2 s.
    await writeFile(
      path.join(dir, 'hold.js'),
      'const held = Buffer.alloc(1 << 30, 1);\nsetTimeout(() => held.length, 2000);\n',
    );
    // The shell joins the cgroup, then becomes sluice: sluice and every child it starts are inside it.
    const script = `echo $$ > ${path.join(group, 'cgroup.procs')} && exec "${process.execPath}" "${CLI}" run --items items.csv --progress json -- "${process.execPath}" hold.js`;
    let stderr = '';
    try {
      execFileSync('sh', ['-c', script], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 });
    } catch (error) {
      stderr = String((error as { stderr?: Buffer }).stderr ?? error);
      assert.fail(`sluice run failed inside the cgroup: ${stderr.slice(-2000)}`);
    }
    const peak = Number(await readFile(path.join(group, 'memory.max_usage_in_bytes'), 'utf8'));
    const oom = await readFile(path.join(group, 'memory.oom_control'), 'utf8');
    assert.match(oom, /oom_kill 0/, 'no process in the cgroup was OOM-killed');
    assert.ok(peak < 0.8 * LIMIT, `peak ${(peak / GIB).toFixed(2)} GiB is under 80 % of 6 GiB`);
    assert.ok(peak > 1 * GIB, `the children really held their memory (peak ${(peak / GIB).toFixed(2)} GiB)`);
    const status = JSON.parse(
      execFileSync(process.execPath, [CLI, 'status', '--json'], { cwd: dir, encoding: 'utf8' }),
    ) as {
      items: { done: number; failed: number };
    };
    assert.deepEqual([status.items.done, status.items.failed], [16, 0]);
  });
});
