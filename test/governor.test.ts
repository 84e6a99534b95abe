// The governor as a specification: the controller driven against simulated servers on a fake
// clock (deterministic, no sleeps), then the limiter, the wiring and the host readings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyFailure } from '../src/engine/governor/classify.js';
import {
  ConcurrencyController,
  type ControllerOptions,
  describeChange,
  type HostSample,
  type LimitChange,
  type Outcome,
} from '../src/engine/governor/controller.js';
import {
  memoryFraction,
  type ReadText,
  readCgroupCpuQuota,
  readCgroupMemory,
} from '../src/engine/governor/host.js';
import { Governor } from '../src/engine/governor/index.js';
import { Limiter } from '../src/engine/governor/limiter.js';

// ---------------------------------------------------------------------------------------------
// A discrete-event simulation: an endless supply of calls, started whenever fewer than the limit
// are in flight, each answered by a simulated server after a simulated latency.

interface Answer {
  outcome: Outcome;
  status?: string;
  retryAfterMs?: number;
  /** Refusals come back fast, whatever the load. */
  latencyMs?: number;
}

interface Server {
  /** Latency of a call started with `inFlight` calls running, itself included. */
  latencyMs(inFlight: number, now: number): number;
  /** Default: ok. */
  answer?(now: number): Answer;
}

interface Run {
  changes: LimitChange[];
  /** Most calls ever in flight at once. */
  maxInFlight: number;
  ok: number;
  refused: number;
  limitAt(t: number): number;
  /** The limit at each whole second in [from, to] (seconds). */
  limitsBetween(fromS: number, toS: number): number[];
}

interface SimOptions extends ControllerOptions {
  untilMs: number;
  /** The host as a function of time and calls in flight, sampled every second. */
  host?: (now: number, inFlight: number) => HostSample;
}

function simulate(server: Server, options: SimOptions): Run {
  const controller = new ConcurrencyController(options, 0);
  const initial = controller.limit;
  const pending: { at: number; started: number; answer: Answer }[] = [];
  const changes: LimitChange[] = [];
  let now = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let ok = 0;
  let refused = 0;
  let nextSample = 1000;
  const note = (change: LimitChange | undefined) => {
    if (change) changes.push(change);
  };
  while (now < options.untilMs) {
    while (inFlight < controller.limit) {
      // A broken cap would otherwise have the simulation start calls forever.
      assert.ok(inFlight < 20_000, `limit ran away: ${controller.limit}`);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const answer = server.answer?.(now) ?? { outcome: 'ok' };
      insertByTime(pending, {
        at: now + (answer.latencyMs ?? server.latencyMs(inFlight, now)),
        started: now,
        answer,
      });
    }
    const next = pending[0];
    if (options.host && (next === undefined || nextSample <= next.at)) {
      now = nextSample;
      nextSample += 1000;
      note(controller.sampleHost(options.host(now, inFlight), now));
      continue;
    }
    if (next === undefined) break;
    pending.shift();
    now = next.at;
    if (next.answer.outcome === 'ok') ok += 1;
    else refused += 1;
    const { outcome, status, retryAfterMs } = next.answer;
    note(controller.observe({ rttMs: now - next.started, outcome, status, retryAfterMs, inFlight }, now));
    inFlight -= 1;
  }
  const limitAt = (t: number) => changes.filter((c) => c.at <= t).at(-1)?.to ?? initial;
  const limitsBetween = (fromS: number, toS: number) => {
    const limits: number[] = [];
    for (let s = fromS; s <= toS; s++) limits.push(limitAt(s * 1000));
    return limits;
  };
  return { changes, maxInFlight, ok, refused, limitAt, limitsBetween };
}

function insertByTime<T extends { at: number }>(queue: T[], item: T): void {
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((queue[mid] as T).at <= item.at) lo = mid + 1;
    else hi = mid;
  }
  queue.splice(lo, 0, item);
}

/** A server that works on `capacity` calls at once: latency is flat up to it, then grows with the queue. */
function serverWithCapacity(capacity: number, baseMs = 100, noise?: () => number): Server {
  return { latencyMs: (n) => baseMs * Math.max(1, n / capacity) * (noise?.() ?? 1) };
}

/** Accepts at most `perSecond(now)` calls per clock second; refuses the rest with 503 ServerBusy. */
function rateLimited(server: Server, perSecond: (now: number) => number, retryAfterMs?: number): Server {
  let second = -1;
  let used = 0;
  return {
    latencyMs: server.latencyMs,
    answer(now) {
      if (Math.floor(now / 1000) !== second) {
        second = Math.floor(now / 1000);
        used = 0;
      }
      if (used < perSecond(now)) {
        used += 1;
        return { outcome: 'ok' };
      }
      return { outcome: 'throttled', status: '503 ServerBusy', latencyMs: 20, retryAfterMs };
    },
  };
}

/** Seeded log-normal noise with mean 1, so "noisy" runs are the same every time. */
function logNormalNoise(sigma: number, seed: number): () => number {
  let s = seed;
  const uniform = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const z = Math.sqrt(-2 * Math.log(uniform() || 1e-12)) * Math.cos(2 * Math.PI * uniform());
    return Math.exp(sigma * z - (sigma * sigma) / 2);
  };
}

const calm: HostSample = { memoryFraction: 0.3, cpuFraction: 0.2, eventLoopLagMs: 5 };

function assertWithin(values: number[], low: number, high: number, what: string): void {
  const outside = values.filter((v) => v < low || v > high);
  assert.deepEqual(outside, [], `${what}: expected all within [${low}, ${high}], got ${values.join(',')}`);
}

// ---------------------------------------------------------------------------------------------

describe('controller against simulated servers', () => {
  test('settles near the capacity of a server whose latency rises above it', () => {
    for (const capacity of [40, 100, 300]) {
      const run = simulate(serverWithCapacity(capacity), { untilMs: 120_000, maxConcurrency: 1000 });
      assertWithin(run.limitsBetween(30, 120), 0.75 * capacity, 1.25 * capacity, `capacity ${capacity}`);
      assert.ok(
        run.changes.some((c) => /^latency \d+ms > baseline \d+ms$/.test(c.reason)),
        'the overshoot was cut for latency',
      );
    }
  });

  test('settles near capacity when latency is noisy (calls of very different sizes)', () => {
    for (const seed of [1, 2, 3]) {
      const run = simulate(serverWithCapacity(100, 100, logNormalNoise(0.5, seed)), {
        untilMs: 300_000,
        maxConcurrency: 1000,
      });
      const late = run.limitsBetween(60, 300);
      const mean = late.reduce((a, b) => a + b, 0) / late.length;
      assert.ok(mean >= 75 && mean <= 125, `seed ${seed}: mean limit ${mean} is not within 25 % of 100`);
      assertWithin(late, 50, 150, `seed ${seed}`);
    }
  });

  test('a service that gets slower on its own is accepted as the new normal, not fought down', () => {
    // Latency doubles at 60 s for reasons of its own; the capacity (calls at once) is unchanged.
    const base = (now: number) => (now < 60_000 ? 100 : 200);
    const run = simulate({ latencyMs: (n, now) => base(now) * Math.max(1, n / 100) }, { untilMs: 180_000 });
    assertWithin(run.limitsBetween(120, 180), 75, 125, 'after the slowdown');
  });

  test('fast start reaches capacity in O(log C) intervals, not C', () => {
    for (const capacity of [100, 1000]) {
      const run = simulate(serverWithCapacity(capacity), { untilMs: 30_000, maxConcurrency: 2000 });
      const reached = run.changes.findIndex((c) => c.to >= 0.75 * capacity);
      assert.ok(reached >= 0, `never reached ${capacity}`);
      // From 16: one doubling per step, so ceil(log2(C / 16)) increases.
      assert.ok(reached + 1 <= Math.ceil(Math.log2(capacity / 16)), `took ${reached + 1} changes`);
      // Each step waits out one interval and measures one (>= 250 ms each); adding 1 per step
      // would need (C - 16) steps: 42 s for C = 100, 8 minutes for C = 1000.
      assert.ok(
        (run.changes[reached] as LimitChange).at <= 4000,
        `reached at ${(run.changes[reached] as LimitChange).at} ms`,
      );
      assert.match(
        (run.changes[0] as LimitChange).reason,
        /^fast start, latency 100ms holds at baseline 100ms/,
      );
    }
  });

  test('backs off within a few intervals when the server starts throttling, and stays near its rate', () => {
    // From 20 s the server accepts 300 calls a second: at 100 ms a call, 30 at once.
    const run = simulate(
      rateLimited(serverWithCapacity(100), (now) => (now < 20_000 ? Number.POSITIVE_INFINITY : 300)),
      { untilMs: 90_000 },
    );
    assert.ok(run.limitAt(19_000) >= 75, 'near capacity before the throttling');
    assert.ok(run.limitAt(21_500) <= 37, `still at ${run.limitAt(21_500)} 1.5 s after the first 503`);
    assertWithin(run.limitsBetween(30, 90), 15, 37, 'while throttled');
    const cut = run.changes.find((c) => c.at >= 20_000) as LimitChange;
    assert.equal(describeChange(cut), `concurrency ${cut.from} -> ${cut.to}: 503 ServerBusy`);
    assert.equal(cut.to, Math.floor(cut.from * 0.7));
  });

  test('honours Retry-After: after the cut, no increase until it has passed', () => {
    // The server refuses everything for 200 ms at 10 s, asking for 5 s of patience.
    const run = simulate(
      rateLimited(
        serverWithCapacity(100),
        (now) => (now >= 10_000 && now < 10_200 ? 0 : Number.POSITIVE_INFINITY),
        5000,
      ),
      { untilMs: 30_000 },
    );
    const cut = run.changes.find((c) => c.at >= 10_000) as LimitChange;
    assert.match(cut.reason, /^503 ServerBusy.*, retry after 5s$/);
    const during = run.changes.filter((c) => c.at >= cut.at && c.at < cut.at + 5000);
    assert.ok(
      during.every((c) => c.to <= cut.to),
      `rose during Retry-After: ${during.map(describeChange).join('; ')}`,
    );
    const after = run.changes.find((c) => c.at >= cut.at + 5000);
    assert.ok(
      after && after.to > after.from && after.at < cut.at + 7000,
      'grows again once Retry-After has passed',
    );
  });

  test('backs off when memory crosses the threshold, and recovers after it falls', () => {
    // Each call holds 0.2 % of memory; from 20 s to 40 s something else takes 35 %.
    const memory = (now: number, inFlight: number) =>
      0.3 + 0.002 * inFlight + (now >= 20_000 && now < 40_000 ? 0.35 : 0);
    const run = simulate(serverWithCapacity(100), {
      untilMs: 100_000,
      host: (now, inFlight) => ({ ...calm, memoryFraction: memory(now, inFlight) }),
    });
    assert.ok(run.limitAt(19_000) >= 75, 'near capacity before');
    // Below 75 % with the neighbour there means at most 50 calls at once.
    assertWithin(run.limitsBetween(23, 39), 1, 50, 'under memory pressure');
    assert.match((run.changes.find((c) => c.at >= 20_000) as LimitChange).reason, /^memory 8\d% > 75%$/);
    assertWithin(run.limitsBetween(75, 100), 75, 125, 'after the memory is back');
  });

  test('CPU and event-loop lag over their thresholds cut by the soft factor', () => {
    const controller = new ConcurrencyController({ initialLimit: 100 }, 0);
    const cpu = controller.sampleHost({ ...calm, cpuFraction: 0.92 }, 1000);
    assert.deepEqual(cpu, { at: 1000, from: 100, to: 90, reason: 'CPU 92% > 75%' });
    // One late sample is a pause (start-up, a big page to parse): no cut. Lag that lasts is load.
    assert.equal(controller.sampleHost({ ...calm, eventLoopLagMs: 340 }, 2000), undefined);
    const lag = controller.sampleHost({ ...calm, eventLoopLagMs: 340 }, 3000);
    assert.deepEqual(lag, { at: 3000, from: 90, to: 81, reason: 'event-loop lag 340ms > 200ms' });
    assert.equal(controller.sampleHost(calm, 4000), undefined);
  });

  test('CPU pressure cuts at most to half the limit it found, and holds there while it lasts', () => {
    // The busy CPU we read is mostly others' (programs, a server on this host answering us):
    // cutting on and on would take us to 1 and free little for them.
    const controller = new ConcurrencyController({ initialLimit: 100 }, 0);
    const busy = { ...calm, cpuFraction: 0.9 };
    const limits: number[] = [];
    for (let t = 1000; t <= 30_000; t += 1000) {
      controller.sampleHost(busy, t);
      limits.push(controller.limit);
    }
    assert.deepEqual(limits.slice(0, 8), [90, 81, 72, 64, 57, 51, 50, 50]);
    assertWithin(limits.slice(6), 50, 50, 'held at the floor while the pressure lasts');
    // Memory is ours: its cuts go below the CPU floor.
    const memory = controller.sampleHost({ ...busy, memoryFraction: 0.9 }, 31_000);
    assert.deepEqual(memory, { at: 31_000, from: 50, to: 35, reason: 'memory 90% > 75%, CPU 90% > 75%' });
    // Once the pressure has gone, a new episode starts from the limit it finds.
    controller.sampleHost(calm, 32_000);
    for (let t = 33_000; t <= 60_000; t += 1000) controller.sampleHost(busy, t);
    assert.equal(controller.limit, 17);
  });

  test('one slow interval is a pause, not overload: latency must stay risen two intervals to cut', () => {
    // At the cap, so the limit can only move by a cut. Each interval (250 ms) brings 10 calls.
    const controller = new ConcurrencyController({ initialLimit: 50, maxConcurrency: 50 }, 0);
    let now = 0;
    const interval = (rttMs: number) => {
      const changes: LimitChange[] = [];
      for (let i = 0; i < 10; i++) {
        now += 25;
        const c = controller.observe({ rttMs, outcome: 'ok', inFlight: 50 }, now);
        if (c) changes.push(c);
      }
      return changes;
    };
    for (let i = 0; i < 8; i++) assert.deepEqual(interval(100), [], 'steady at the cap');
    assert.deepEqual(interval(300), [], 'one slow interval');
    assert.deepEqual(interval(100), [], 'back to normal');
    assert.deepEqual(interval(300), [], 'slow again: the first of a run');
    const cut = interval(300);
    assert.equal(cut.length, 1, 'the second slow interval in a row cuts');
    assert.match(
      describeChange(cut[0] as LimitChange),
      /^concurrency 50 -> 2\d: latency 300ms > baseline 10\dms$/,
    );
  });

  test('never exceeds maxConcurrency, however willing the server', () => {
    for (const maxConcurrency of [40, 256]) {
      const run = simulate(serverWithCapacity(Number.POSITIVE_INFINITY), { untilMs: 60_000, maxConcurrency });
      assert.equal(run.limitAt(60_000), maxConcurrency, 'reaches the cap');
      assert.ok(run.maxInFlight <= maxConcurrency, `ran ${run.maxInFlight} at once`);
      assert.ok(run.changes.every((c) => c.to <= maxConcurrency));
    }
  });

  test('options that make no sense are refused with their name', () => {
    assert.throws(
      () => new ConcurrencyController({ maxConcurrency: 0 }),
      /maxConcurrency must be a whole number >= 1, got 0/,
    );
    assert.throws(
      () => new ConcurrencyController({ pushBackDecrease: 1.5 }),
      /pushBackDecrease must be above 0 and below 1/,
    );
    assert.equal(new ConcurrencyController({ initialLimit: 16, maxConcurrency: 8 }).limit, 8);
  });

  test('never goes below 1, however hard the server refuses', () => {
    const run = simulate(
      rateLimited(serverWithCapacity(100), () => 0),
      { untilMs: 30_000 },
    );
    assert.equal(run.limitAt(30_000), 1);
    assert.ok(run.changes.every((c) => c.to >= 1));
    assert.equal(run.ok, 0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('limiter', () => {
  /** Acquires, and notes `name` in `started` once the slot is granted. */
  async function acquireNoting(limiter: Limiter, name: string, started: string[]): Promise<() => void> {
    const release = await limiter.acquire();
    started.push(name);
    return release;
  }

  test('grants up to the limit and queues the rest first come, first served', async () => {
    const limiter = new Limiter(2);
    const started: string[] = [];
    const a = await acquireNoting(limiter, 'a', started);
    const b = await acquireNoting(limiter, 'b', started);
    const c = acquireNoting(limiter, 'c', started);
    const d = acquireNoting(limiter, 'd', started);
    assert.equal(limiter.inFlight, 2);
    assert.equal(limiter.waiting, 2);
    a();
    (await c)();
    b();
    (await d)();
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
    assert.equal(limiter.inFlight, 0);
  });

  test('lowering the limit lets running work finish and holds new starts until enough have', async () => {
    const limiter = new Limiter(3);
    const [first, second, third] = await Promise.all([
      limiter.acquire(),
      limiter.acquire(),
      limiter.acquire(),
    ]);
    limiter.setLimit(1);
    assert.equal(limiter.inFlight, 3, 'running work is not stopped');
    const started: string[] = [];
    const next = acquireNoting(limiter, 'next', started);
    first();
    second();
    await Promise.resolve();
    assert.deepEqual(started, [], 'one still runs, so the limit of 1 is in use');
    assert.equal(limiter.inFlight, 1);
    third();
    (await next)();
    assert.deepEqual(started, ['next']);
  });

  test('raising the limit starts waiting callers at once', async () => {
    const limiter = new Limiter(1);
    await limiter.acquire();
    const waiting = [limiter.acquire(), limiter.acquire()];
    limiter.setLimit(3);
    await Promise.all(waiting);
    assert.equal(limiter.inFlight, 3);
  });

  test('an aborted wait leaves the queue and holds no slot; releasing twice frees one slot', async () => {
    const limiter = new Limiter(1);
    const release = await limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal);
    controller.abort(new Error('shutting down'));
    await assert.rejects(aborted, /shutting down/);
    assert.equal(limiter.waiting, 0);
    release();
    release();
    assert.equal(limiter.inFlight, 0);
    await limiter.acquire();
    assert.equal(limiter.inFlight, 1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('governor wiring', () => {
  function fakeGovernor(host: HostSample, options: ControllerOptions = {}) {
    let now = 1_000_000;
    const ticks: (() => void)[] = [];
    let stopped = false;
    const governor = new Governor({
      ...options,
      clock: () => now,
      every: (_ms, tick) => {
        ticks.push(tick);
        return () => {
          stopped = true;
        };
      },
      host: { sample: () => host, close: () => {} },
    });
    const changes: LimitChange[] = [];
    governor.events.on('change', (c) => changes.push(c));
    return {
      governor,
      changes,
      advance: (ms: number) => {
        now += ms;
      },
      tick: () => {
        for (const t of ticks) t();
      },
      stopped: () => stopped,
    };
  }

  test('run() times the call, reads a 503 with Retry-After, and cuts the limit with a reason', async () => {
    const { governor, changes, advance } = fakeGovernor(calm, { initialLimit: 20 });
    const busy = Object.assign(new Error('The server is busy.'), {
      statusCode: 503,
      code: 'ServerBusy',
      response: { headers: new Map([['retry-after', '2']]) },
    });
    await assert.rejects(
      governor.run(async () => {
        advance(80);
        throw busy;
      }),
      busy,
    );
    assert.deepEqual(changes, [
      { at: 1_000_080, from: 20, to: 14, reason: '503 ServerBusy, retry after 2s' },
    ]);
    assert.equal(governor.limit, 14);
    assert.equal(governor.inFlight, 0);
    assert.equal(await governor.run(async () => 'ok'), 'ok');
  });

  test('samples the host on its timer and cuts on memory pressure; close() stops the timer', () => {
    const { governor, changes, tick, stopped } = fakeGovernor(
      { ...calm, memoryFraction: 0.9 },
      { initialLimit: 64 },
    );
    tick();
    assert.deepEqual(
      changes.map((c) => describeChange(c)),
      ['concurrency 64 -> 44: memory 90% > 75%'],
    );
    assert.equal(governor.limit, 44);
    governor.close();
    assert.equal(stopped(), true);
  });
});

describe('classifying failures', () => {
  test('throttling, timeouts and plain errors, through wrapping causes', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    const tooMany = { status: 429, headers: { 'retry-after': 'Sun, 01 Jun 2025 12:00:03 GMT' } };
    assert.deepEqual(classifyFailure(tooMany, now), {
      outcome: 'throttled',
      status: '429',
      retryAfterMs: 3000,
    });
    // What AbortSignal.timeout() aborts with, wrapped by the task that hit it.
    const timedOut = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const wrapped = new Error('blob y=2025/m=06/PT1H.json failed', { cause: timedOut });
    assert.deepEqual(classifyFailure(wrapped), { outcome: 'timeout', status: 'timeout' });
    assert.deepEqual(classifyFailure({ retryAfterMs: 1500, transient: true }), {
      outcome: 'throttled',
      retryAfterMs: 1500,
    });
    assert.deepEqual(
      classifyFailure(Object.assign(new Error('gone'), { statusCode: 404, code: 'BlobNotFound' })),
      {
        outcome: 'error',
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('host readings', () => {
  const files =
    (contents: Record<string, string>): ReadText =>
    (path) =>
      contents[path];
  const GiB = 2 ** 30;

  test('cgroup v2: the smallest memory.max on the path up, usage without inactive file cache', () => {
    const read = files({
      '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
      '/sys/fs/cgroup/cgroup.controllers': 'cpu memory\n',
      '/sys/fs/cgroup/kubepods/pod1/c1/memory.max': 'max\n',
      '/sys/fs/cgroup/kubepods/pod1/memory.max': `${2 * GiB}\n`,
      '/sys/fs/cgroup/kubepods/memory.max': `${8 * GiB}\n`,
      '/sys/fs/cgroup/kubepods/pod1/c1/memory.current': `${1.5 * GiB}\n`,
      '/sys/fs/cgroup/kubepods/pod1/c1/memory.stat': `anon 100\ninactive_file ${0.5 * GiB}\n`,
      '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': '150000 100000\n',
    });
    assert.deepEqual(readCgroupMemory(read), { limit: 2 * GiB, used: 1 * GiB });
    assert.equal(readCgroupCpuQuota(read), 1.5);
  });

  test('cgroup v1: hierarchical limit, and "no limit" written as a huge number', () => {
    const limited = files({
      '/proc/self/cgroup': '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n',
      '/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes': `${3 * GiB}`,
      '/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes': '9223372036854771712',
      '/sys/fs/cgroup/memory/docker/abc/memory.stat': `hierarchical_memory_limit ${4 * GiB}\ntotal_inactive_file ${GiB}\n`,
    });
    assert.deepEqual(readCgroupMemory(limited), { limit: 4 * GiB, used: 2 * GiB });
    const unlimited = files({
      '/proc/self/cgroup': '4:memory:/\n',
      '/sys/fs/cgroup/memory/memory.usage_in_bytes': `${3 * GiB}`,
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712',
    });
    assert.equal(readCgroupMemory(unlimited), undefined);
  });

  test('memory is what we use against what we could use: others using RAM do not pin us down', () => {
    const laptop = { totalMem: 16 * GiB, heapUsed: 0.1 * GiB, heapLimit: 4 * GiB };
    // A browser holds 10 GiB; we use 1 GiB and 5 GiB are still available: plenty.
    assert.ok(memoryFraction({ ...laptop, rss: GiB, hostAvailable: 5 * GiB }, undefined) < 0.2);
    // We grew to 4.5 GiB and only 1 GiB is left: back off.
    assert.ok(memoryFraction({ ...laptop, rss: 4.5 * GiB, hostAvailable: GiB }, undefined) > 0.75);
    // In a 2 GiB container with 0.4 GiB left under its limit, the host's free memory does not help.
    const container = { limit: 2 * GiB, used: 1.6 * GiB };
    assert.ok(memoryFraction({ ...laptop, rss: 1.5 * GiB, hostAvailable: 10 * GiB }, container) > 0.75);
    // A JS heap near V8's limit counts on its own.
    assert.equal(
      memoryFraction({ ...laptop, rss: GiB, hostAvailable: 10 * GiB, heapUsed: 3.6 * GiB }, undefined),
      0.9,
    );
  });
});
