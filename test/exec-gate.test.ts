// The child gate as a specification: capacity.ts driven on simulated hosts (deterministic, no
// sleeps), the gate's wiring on simulated /proc readings, and /proc parsing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ChildCapacity,
  type ChildReading,
  type Decision,
  type HostReading,
} from '../src/tasks/exec/capacity.js';
import { ChildGate, readCgroupCpuMs } from '../src/tasks/exec/gate.js';
import { type ProcReader, parseStat, parseVmRss, readGroups } from '../src/tasks/exec/proc.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

interface SimChild {
  id: number;
  startedAt: number;
  rss: number;
  previous: number;
}

interface Sim {
  /** Memory a child holds `ageMs` into its life. */
  childRss(ageMs: number): number;
  /** How long a child runs. */
  lifeMs: number;
  /** CPUs one child keeps busy. */
  childCpu?: number;
  budget: number;
  /** What the rest of the host uses, at time t. */
  baseUsed(t: number): number;
  cores?: number;
  untilMs: number;
}

interface SimRun {
  maxRunning: number;
  maxMemory: number;
  decisions: Decision[];
  stopped: number;
  finished: number;
  capacity: ChildCapacity;
}

/** Starts children whenever slots are free (endless work), samples every 250 ms, as the gate does. */
function simulate(sim: Sim, capacity = new ChildCapacity()): SimRun {
  const running: SimChild[] = [];
  const decisions: Decision[] = [];
  let nextId = 1;
  let maxRunning = 0;
  let maxMemory = 0;
  let stopped = 0;
  let finished = 0;
  const cores = sim.cores ?? 8;
  for (let t = 0; t <= sim.untilMs; t += 250) {
    for (let i = running.length - 1; i >= 0; i--) {
      const c = running[i] as SimChild;
      if (t - c.startedAt >= sim.lifeMs) {
        running.splice(i, 1);
        finished += 1;
        capacity.finished({ startedAt: c.startedAt, peakRssBytes: c.rss, cpuCores: sim.childCpu ?? 0 });
      }
    }
    while (running.length < capacity.limit) running.push({ id: nextId++, startedAt: t, rss: 0, previous: 0 });
    maxRunning = Math.max(maxRunning, running.length);
    for (const c of running) {
      c.previous = c.rss;
      c.rss = sim.childRss(t - c.startedAt);
    }
    const used = sim.baseUsed(t) + running.reduce((s, c) => s + c.rss, 0);
    maxMemory = Math.max(maxMemory, used / sim.budget);
    const host: HostReading = {
      budgetBytes: sim.budget,
      usedBytes: used,
      cpuFraction: Math.min(1, (running.length * (sim.childCpu ?? 0)) / cores),
      cores,
    };
    const readings: ChildReading[] = running.map((c) => ({
      id: c.id,
      startedAt: c.startedAt,
      rssBytes: c.rss,
      previousRssBytes: c.previous,
      cpuCores: sim.childCpu ?? 0,
    }));
    const d = capacity.decide(host, readings, running.length, t);
    if (d) {
      decisions.push(d);
      if (d.stop !== undefined) {
        const i = running.findIndex((c) => c.id === d.stop);
        assert.ok(i >= 0, 'the child to stop is running');
        running.splice(i, 1);
        stopped += 1;
      }
    }
  }
  return { maxRunning, maxMemory, decisions, stopped, finished, capacity };
}

/** A child that loads a model: its memory climbs to `peak` over `loadMs`, then holds. */
const loading = (peak: number, loadMs: number) => (age: number) =>
  Math.min(peak, (peak * (age + 250)) / loadMs);

describe('capacity: how many children the host can take', () => {
  test('children of 1 GiB on a 6 GiB host settle at what fits under 75 %, never 16 at once', () => {
    const run = simulate({
      childRss: loading(GiB, 3000),
      lifeMs: 30_000,
      budget: 6 * GiB,
      baseUsed: () => 0.5 * GiB,
      untilMs: 120_000,
    });
    // (0.75 * 6 - 0.5) / 1 = 4 children fit.
    assert.ok(run.maxRunning <= 5, `at most one over what fits while probing, got ${run.maxRunning}`);
    assert.ok(run.maxMemory < 0.9, `never near the critical line, got ${run.maxMemory}`);
    assert.equal(run.capacity.limit, 4);
    assert.equal(run.stopped, 0);
  });

  test('the number grows one child at a time, each after the last proved what it costs', () => {
    const run = simulate({
      childRss: loading(256 * MiB, 1000),
      lifeMs: 60_000,
      budget: 64 * GiB,
      baseUsed: () => GiB,
      untilMs: 20_000,
    });
    const ups = run.decisions.filter((d) => d.to > d.from);
    assert.ok(ups.length >= 3);
    for (const d of ups) assert.equal(d.to, d.from + 1);
    for (const d of ups)
      assert.match(d.message, /one more fits: memory \d+ % and CPU \d+ % with it, one child ≈/);
  });

  test('a busy CPU holds the number where one more child would pass the CPU threshold', () => {
    const run = simulate({
      childRss: () => 50 * MiB,
      childCpu: 1,
      lifeMs: 5_000,
      budget: 64 * GiB,
      baseUsed: () => GiB,
      cores: 8,
      untilMs: 60_000,
    });
    // 6 children keep 75 % of 8 cores busy; a 7th would pass it.
    assert.equal(run.capacity.limit, 6);
    assert.ok(run.maxRunning <= 6);
  });

  test('memory taken by others past the critical line stops the youngest child, whose item goes back', () => {
    const run = simulate({
      childRss: loading(GiB, 1000),
      lifeMs: 600_000,
      budget: 16 * GiB,
      baseUsed: (t) => (t < 60_000 ? GiB : 11 * GiB),
      untilMs: 80_000,
    });
    const stop = run.decisions.find((d) => d.stop !== undefined);
    assert.ok(stop, 'a child was stopped');
    assert.match(
      stop.message,
      /memory \d+ % ≥ 90 % \(critical\), one child ≈ 1\.1 GB: stopping the youngest child/,
    );
    assert.ok(run.stopped >= 1);
    // 11 GiB of others leave room under 75 % for one child: the rest are stopped or held back.
    assert.equal(run.capacity.limit, 1);
  });

  test('memory over the threshold lowers the number to what fits, saying why', () => {
    const capacity = new ChildCapacity({ initial: 6 });
    const children: ChildReading[] = Array.from({ length: 6 }, (_, i) => ({
      id: i + 1,
      startedAt: i * 1000,
      rssBytes: 1.1 * GiB,
      previousRssBytes: 1.1 * GiB,
      cpuCores: 0.1,
    }));
    const d = capacity.decide(
      { budgetBytes: 10 * GiB, usedBytes: 7.8 * GiB, cpuFraction: 0.1, cores: 8 },
      children,
      6,
      10_000,
    );
    assert.ok(d);
    // Others hold 7.8 - 6.6 = 1.2 GiB; under 7.5 GiB fit floor(6.3 / 1.1) = 5 children.
    assert.equal(d.to, 5);
    assert.equal(d.message, 'children 6 -> 5: memory 78 % > 75 %, one child ≈ 1.2 GB');
    assert.equal(d.stop, undefined);
  });

  test('the only child is never stopped, however much memory is in use', () => {
    const capacity = new ChildCapacity({ initial: 1 });
    const d = capacity.decide(
      { budgetBytes: 8 * GiB, usedBytes: 7.9 * GiB, cpuFraction: 0, cores: 2 },
      [{ id: 1, startedAt: 0, rssBytes: 6 * GiB, previousRssBytes: 6 * GiB, cpuCores: 1 }],
      1,
      5000,
    );
    assert.equal(d?.stop, undefined);
  });

  test('a CPU burst cuts one child, then waits to see the effect before cutting again', () => {
    const capacity = new ChildCapacity({ initial: 4, settleMs: 2000 });
    const children: ChildReading[] = Array.from({ length: 4 }, (_, i) => ({
      id: i + 1,
      startedAt: 0,
      rssBytes: 100 * MiB,
      previousRssBytes: 100 * MiB,
      cpuCores: 0.5,
    }));
    const busy = { budgetBytes: 64 * GiB, usedBytes: 4 * GiB, cpuFraction: 0.95, cores: 2 };
    const limits: number[] = [];
    for (let t = 10_000; t <= 12_500; t += 250) {
      capacity.decide(busy, children, 4, t);
      limits.push(capacity.limit);
    }
    // Over on two samples: 4 -> 3 at 10.25 s; held until 12.25 s; then 3 -> 2.
    assert.deepEqual(limits, [4, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2]);
  });

  test("sluice's own event loop saturated: no child is added, and one is taken away", () => {
    const capacity = new ChildCapacity({ initial: 4, settleMs: 2000 });
    // Trivial children: they finish at once, take nothing the host would notice.
    const idle = { budgetBytes: 64 * GiB, usedBytes: 4 * GiB, cpuFraction: 0.1, cores: 2 };
    capacity.finished({ startedAt: 9_000, peakRssBytes: 2 * MiB, cpuCores: 0.01 });
    assert.equal(
      capacity.decide({ ...idle, loopBusy: 0.5 }, [], 4, 10_000)?.to,
      5,
      'grows while the loop has room',
    );
    assert.equal(
      capacity.decide({ ...idle, loopBusy: 0.95 }, [], 5, 10_250),
      undefined,
      'no growth when saturated',
    );
    const five: ChildReading[] = Array.from({ length: 5 }, (_, i) => ({
      id: i + 1,
      startedAt: 10_400,
      rssBytes: 2 * MiB,
      previousRssBytes: 2 * MiB,
      cpuCores: 0.01,
    }));
    const cut = capacity.decide({ ...idle, loopBusy: 0.95 }, five, 5, 10_500);
    assert.deepEqual(cut && { from: cut.from, to: cut.to }, { from: 5, to: 4 });
    assert.match(cut?.message ?? '', /event loop 95 % busy/);
  });

  test('children that end at once add at most one child per reading of the host', () => {
    const capacity = new ChildCapacity({ initial: 2 });
    const host = { budgetBytes: 64 * GiB, usedBytes: 4 * GiB, cpuFraction: 0.1, cores: 2, loopBusy: 0.2 };
    // Between two samples, a hundred trivial children end, each deciding on the same reading.
    for (let i = 0; i < 100; i += 1) {
      capacity.finished({ startedAt: 10_000 + i, peakRssBytes: MiB, cpuCores: 0 });
      capacity.decide(host, [], capacity.limit, 10_000 + i);
    }
    assert.equal(capacity.limit, 3);
    capacity.finished({ startedAt: 10_200, peakRssBytes: MiB, cpuCores: 0 });
    capacity.decide({ ...host }, [], 3, 10_250); // the next sample: one more
    assert.equal(capacity.limit, 4);
  });

  test('a failed spawn lowers the number below what was running', () => {
    const capacity = new ChildCapacity({ initial: 8 });
    const d = capacity.spawnFailed(8, 'EAGAIN');
    assert.deepEqual(d && { from: d.from, to: d.to }, { from: 8, to: 7 });
    assert.match(d?.message ?? '', /EAGAIN/);
  });
});

describe('proc: a process group from /proc', () => {
  test('stat lines parse past a command name holding spaces and parentheses', () => {
    const line =
      '4242 (my (odd) cmd) S 1 4240 4240 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10 0 0';
    assert.deepEqual(parseStat(line), { pgrp: 4240, cpuMs: 3000 });
    assert.equal(parseVmRss('Name:\tx\nVmRSS:\t  2048 kB\n'), 2 * MiB);
    assert.equal(parseVmRss('Name:\tkthread\n'), 0);
  });

  test("a group's memory and CPU are the sums over its processes, other groups left out", () => {
    const files: Record<string, string> = {
      '/proc/10/stat': '10 (sh) S 1 10 10 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0 1 1 1',
      '/proc/10/status': 'VmRSS:\t1000 kB\n',
      '/proc/11/stat': '11 (sleep) S 10 10 10 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1',
      '/proc/11/status': 'VmRSS:\t500 kB\n',
      '/proc/12/stat': '12 (other) S 1 12 12 0 -1 0 0 0 0 0 99 99 0 0 20 0 1 0 1 1 1',
      '/proc/12/status': 'VmRSS:\t9000 kB\n',
    };
    const proc: ProcReader = { pids: () => ['10', '11', '12', '13'], read: (p) => files[p] };
    const usage = readGroups(new Set([10]), proc);
    assert.deepEqual(usage.get(10), { rssBytes: 1500 * 1024, cpuMs: 170, processes: 2 });
    assert.equal(usage.has(12), false);
  });
});

describe('cgroup CPU: what the children use counts against a quota', () => {
  test("v2: usage_usec of the process's own cgroup; v1: cpuacct.usage, at the root in a cgroup namespace", () => {
    const v2: Record<string, string> = {
      '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
      '/sys/fs/cgroup/cgroup.controllers': 'cpu memory',
      '/sys/fs/cgroup/kubepods/pod1/c1/cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\n',
    };
    assert.equal(
      readCgroupCpuMs((p) => v2[p]),
      2500,
    );
    const v1: Record<string, string> = {
      '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage': '7000000000\n',
    };
    assert.equal(
      readCgroupCpuMs((p) => v1[p]),
      7000,
    );
    assert.equal(
      readCgroupCpuMs(() => undefined),
      undefined,
    );
  });
});

describe('gate: the mechanism', () => {
  test('a sampled child past the critical line is stopped through its callback, and the decision is said', () => {
    let used = 2 * GiB;
    const said: string[] = [];
    const stops: string[] = [];
    const rss = new Map<number, number>([
      [100, GiB],
      [200, GiB],
    ]);
    const proc: ProcReader = {
      pids: () => [...rss.keys()].map(String),
      read: (p) => {
        const pid = Number(p.split('/')[2]);
        if (p.endsWith('/stat')) return `${pid} (x) S 1 ${pid} ${pid} 0 -1 0 0 0 0 0 1 1`;
        return `VmRSS:\t${(rss.get(pid) ?? 0) / 1024} kB\n`;
      },
    };
    let now = 0;
    const gate = new ChildGate({
      host: () => ({ budgetBytes: 10 * GiB, usedBytes: used, cpuFraction: 0.1, cores: 4 }),
      proc,
      clock: () => now,
      sampleEveryMs: 3_600_000,
      onDecision: (m) => said.push(m),
    });
    try {
      const first = gate.track(100, (r) => stops.push(`100: ${r}`));
      now = 1000;
      gate.track(200, (r) => stops.push(`200: ${r}`));
      now = 2000;
      gate.sample();
      assert.equal(stops.length, 0);
      used = 9.5 * GiB;
      now = 3000;
      gate.sample();
      assert.equal(stops.length, 1);
      assert.match(stops[0] as string, /^200: children \d+ -> 1: memory 95 % ≥ 90 % \(critical\)/);
      assert.equal(said.at(-1), (stops[0] as string).slice(5));
      assert.equal(gate.limit, 1);
      assert.equal(first.peakRssBytes, GiB);
    } finally {
      gate.close();
    }
  });

  test('--jobs: a fixed number of children, whatever the host says', async () => {
    const gate = new ChildGate({
      fixed: 3,
      host: () => ({ budgetBytes: GiB, usedBytes: GiB, cpuFraction: 1, cores: 1 }),
      sampleEveryMs: 3_600_000,
    });
    try {
      gate.sample();
      const held = await Promise.all([gate.acquire(), gate.acquire(), gate.acquire()]);
      assert.equal(gate.limit, 3);
      const fourth = gate.acquire(AbortSignal.abort());
      await assert.rejects(fourth);
      for (const release of held) release();
    } finally {
      gate.close();
    }
  });
});
