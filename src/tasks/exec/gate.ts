// The mechanism that lets children start: the engine's `Slots` for `sluice run`. It samples the host
// (host.ts) and each child's process group (proc.ts) every ~250 ms, asks capacity.ts how many may
// run, applies the answer to a limiter, stops the child it names, and says every change.
import os from 'node:os';
import {
  createHostSampler,
  meminfoAvailable,
  parseProcCgroup,
  type ReadText,
  readCgroupCpuQuota,
  readCgroupMemory,
  readText,
} from '../../engine/governor/host.js';
import { Limiter } from '../../engine/governor/limiter.js';
import type { Slots } from '../../engine/loop.js';
import {
  type CapacityOptions,
  ChildCapacity,
  type ChildReading,
  type Decision,
  type HostReading,
} from './capacity.js';
import { type ProcReader, readGroups } from './proc.js';

export interface GateOptions extends CapacityOptions {
  /** Exactly this many children (--jobs): no adapting, no child stopped. */
  fixed?: number;
  /** Milliseconds between samples. Default 250. */
  sampleEveryMs?: number;
  /** Host readings; default the real host (cgroup-aware). */
  host?: () => HostReading;
  proc?: ProcReader;
  clock?: () => number;
  onDecision?: (message: string) => void;
}

/** A child the gate watches, from its spawn to its end. */
export interface TrackedChild {
  /** Highest resident memory its group reached in a sample, bytes (0 if it ended before any). */
  readonly peakRssBytes: number;
  /** CPU time its group used, as last sampled, ms. */
  readonly cpuMs: number;
  /** The child ended; `measured` is what its launcher measured of it, if anything (the spawner's wait4). */
  end(measured?: { peakRssBytes?: number; cpuMs?: number }): void;
}

interface Watched extends ChildReading {
  peakRssBytes: number;
  cpuMs: number;
  sampledAt: number;
  stop: (reason: string) => void;
}

const HOLD_MIN_MS = 500;
const HOLD_MAX_MS = 30_000;

export class ChildGate implements Slots {
  readonly #limiter: Limiter;
  readonly #capacity: ChildCapacity | undefined;
  readonly #children = new Map<number, Watched>();
  readonly #host: () => HostReading;
  readonly #closeHost: () => void;
  readonly #proc: ProcReader | undefined;
  readonly #clock: () => number;
  readonly #say: (message: string) => void;
  readonly #timer: NodeJS.Timeout;
  #lastHost: HostReading | undefined;
  #holdUntil = 0;
  #holdMs = 0;

  constructor(options: GateOptions = {}) {
    this.#capacity = options.fixed === undefined ? new ChildCapacity(options) : undefined;
    this.#limiter = new Limiter(options.fixed ?? this.#capacity?.limit ?? 1);
    this.#clock = options.clock ?? Date.now;
    this.#say = options.onDecision ?? (() => {});
    this.#proc = options.proc;
    if (options.host) {
      this.#host = options.host;
      this.#closeHost = () => {};
    } else {
      const real = realHost();
      this.#host = real.read;
      this.#closeHost = real.close;
    }
    this.#timer = setInterval(() => this.sample(), options.sampleEveryMs ?? 250);
    this.#timer.unref();
  }

  get limit(): number {
    return this.#limiter.limit;
  }

  /** Children running now. */
  get running(): number {
    return this.#children.size;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    // After a failed spawn nothing starts for a while, however many slots are free.
    while (this.#clock() < this.#holdUntil) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, this.#holdUntil - this.#clock());
        function done() {
          signal?.removeEventListener('abort', abort);
          resolve();
        }
        function abort() {
          clearTimeout(timer);
          reject(signal?.reason);
        }
        if (signal?.aborted) abort();
        else signal?.addEventListener('abort', abort, { once: true });
      });
    }
    return this.#limiter.acquire(signal);
  }

  /** Watches a started child's process group; `stop` is called if the host needs its memory back. */
  track(pgid: number, stop: (reason: string) => void): TrackedChild {
    const now = this.#clock();
    const child: Watched = {
      id: pgid,
      startedAt: now,
      rssBytes: 0,
      previousRssBytes: 0,
      cpuCores: 0,
      peakRssBytes: 0,
      cpuMs: 0,
      sampledAt: now,
      stop,
    };
    this.#children.set(pgid, child);
    this.#holdMs = 0;
    return {
      get peakRssBytes() {
        return child.peakRssBytes;
      },
      get cpuMs() {
        return child.cpuMs;
      },
      end: (measured) => {
        if (!this.#children.delete(pgid)) return;
        child.peakRssBytes = Math.max(child.peakRssBytes, measured?.peakRssBytes ?? 0);
        child.cpuMs = Math.max(child.cpuMs, measured?.cpuMs ?? 0);
        const lived = Math.max(1, this.#clock() - child.startedAt);
        this.#capacity?.finished({
          startedAt: child.startedAt,
          peakRssBytes: child.peakRssBytes,
          cpuCores: child.cpuMs / lived,
        });
        // A child that ended may be what the last increase waited for: decide on the last host reading.
        if (this.#lastHost)
          this.#apply(
            this.#capacity?.decide(this.#lastHost, this.#readings(), this.#limiter.inFlight, this.#clock()),
          );
      },
    };
  }

  /** Spawning failed for want of resources (EAGAIN, ENOMEM): fewer children, and a pause before the next. */
  spawnFailed(reason: string): void {
    this.#holdMs = Math.min(HOLD_MAX_MS, Math.max(HOLD_MIN_MS, this.#holdMs * 2));
    this.#holdUntil = this.#clock() + this.#holdMs;
    const decision = this.#capacity?.spawnFailed(this.#limiter.inFlight, reason);
    if (decision) this.#apply(decision);
    else this.#say(`a child could not be started (${reason}): pausing starts for ${this.#holdMs} ms`);
  }

  /** One sample of every child's group and of the host, and the decision it leads to. */
  sample(): void {
    const now = this.#clock();
    const usage =
      this.#children.size > 0 ? readGroups(new Set(this.#children.keys()), this.#proc) : new Map();
    for (const child of this.#children.values()) {
      const group = usage.get(child.id);
      if (!group) continue;
      child.previousRssBytes = child.rssBytes;
      child.rssBytes = group.rssBytes;
      child.peakRssBytes = Math.max(child.peakRssBytes, group.rssBytes);
      child.cpuCores =
        now > child.sampledAt ? Math.max(0, group.cpuMs - child.cpuMs) / (now - child.sampledAt) : 0;
      child.cpuMs = Math.max(child.cpuMs, group.cpuMs);
      child.sampledAt = now;
    }
    if (!this.#capacity) return;
    try {
      this.#lastHost = this.#host();
    } catch {
      return; // an unreadable /proc file must not stop the work; the next sample may do
    }
    this.#apply(this.#capacity.decide(this.#lastHost, this.#readings(), this.#limiter.inFlight, now));
  }

  close(): void {
    clearInterval(this.#timer);
    this.#closeHost();
  }

  #readings(): ChildReading[] {
    return [...this.#children.values()];
  }

  #apply(decision: Decision | undefined): void {
    if (!decision) return;
    this.#limiter.setLimit(decision.to);
    this.#say(decision.message);
    if (decision.stop !== undefined) this.#children.get(decision.stop)?.stop(decision.message);
  }
}

/**
 * CPU time used by this process's cgroup, children included, ms: cpu.stat `usage_usec` (v2) or
 * cpuacct.usage (v1, ns). Undefined outside a cgroup that accounts CPU.
 */
export function readCgroupCpuMs(read: ReadText): number | undefined {
  const groups = parseProcCgroup(read('/proc/self/cgroup') ?? '');
  const v2 = groups.get('');
  if (v2 !== undefined && read('/sys/fs/cgroup/cgroup.controllers') !== undefined) {
    for (const dir of [`/sys/fs/cgroup${v2}`, '/sys/fs/cgroup']) {
      const m = /^usage_usec (\d+)$/m.exec(read(`${dir}/cpu.stat`) ?? '');
      if (m) return Number(m[1]) / 1000;
    }
    return undefined;
  }
  const v1 = groups.get('cpuacct');
  // In a cgroup namespace the process's own group is mounted at the root.
  for (const base of ['/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/cpu,cpuacct']) {
    for (const dir of v1 === undefined ? [base] : [`${base}${v1}`, base]) {
      const ns = Number((read(`${dir}/cpuacct.usage`) ?? '').trim());
      if (read(`${dir}/cpuacct.usage`) !== undefined && Number.isFinite(ns)) return ns / 1e6;
    }
  }
  return undefined;
}

/** The real host: memory budget and use (the cgroup's when it has a limit), busy CPU. */
function realHost(read: ReadText = readText): { read: () => HostReading; close: () => void } {
  const sampler = createHostSampler({ read, lagResolutionMs: 1000 });
  const quota = readCgroupCpuQuota(read);
  const cores = quota ?? os.cpus().length;
  // Under a CPU quota the host sampler counts sluice's own time only; the children run in the same
  // cgroup, so its usage counter is what measures them against the quota.
  let before = quota === undefined ? undefined : { usedMs: readCgroupCpuMs(read), at: performance.now() };
  const cpuFraction = (): number => {
    const sampled = sampler.sample().cpuFraction;
    if (quota === undefined || before?.usedMs === undefined) return sampled;
    const now = { usedMs: readCgroupCpuMs(read), at: performance.now() };
    const fraction =
      now.usedMs !== undefined && now.at > before.at
        ? (now.usedMs - before.usedMs) / (quota * (now.at - before.at))
        : sampled;
    before = now;
    return Math.min(1, Math.max(0, fraction));
  };
  let lastElu = performance.eventLoopUtilization();
  return {
    read: () => {
      const cgroup = readCgroupMemory(read);
      const budgetBytes = Math.min(os.totalmem(), cgroup?.limit ?? Number.POSITIVE_INFINITY);
      let available = meminfoAvailable(read) ?? os.freemem();
      if (cgroup) available = Math.min(available, Math.max(0, cgroup.limit - cgroup.used));
      const elu = performance.eventLoopUtilization();
      const loopBusy = performance.eventLoopUtilization(elu, lastElu).utilization;
      lastElu = elu;
      return {
        budgetBytes,
        usedBytes: Math.max(0, budgetBytes - available),
        cpuFraction: cpuFraction(),
        cores,
        loopBusy,
      };
    },
    close: () => sampler.close(),
  };
}
