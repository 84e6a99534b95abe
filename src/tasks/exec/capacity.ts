// How many children the host can take: the decision, pure (readings and the clock come in as
// arguments; test/exec-gate.test.ts drives it on simulated hosts). gate.ts is the mechanism.
//
// A child starts only while memory and CPU stay under their thresholds WITH what one more child is
// expected to take, learned from the children running and finished. The number grows by probing:
// one more once the last one added has proved what it costs (finished, or ran a while with its
// memory steady), never all at once. Past the critical memory line the youngest child is stopped
// and its item given back. Every change says why.
import { bytes } from '../../cli/format.js';

export interface CapacityOptions {
  /** Children at first, before anything is known of them. Default 2. */
  initial?: number;
  /** Most children at once. Default 256. */
  max?: number;
  /** Share of the memory budget in use (with one more child) under which another may start. Default 0.75. */
  memoryThreshold?: number;
  /** Busy share of the CPUs (with one more child) under which another may start. Default 0.75. */
  cpuThreshold?: number;
  /** Share of the memory budget at which the youngest child is stopped and its item given back. Default 0.9. */
  criticalMemory?: number;
  /** How long a running child must have run, memory steady, to count as proved. Default 2,000 ms. */
  settleMs?: number;
}

/** The host as sampled: the memory budget (host or cgroup) and what is in use, busy CPU. */
export interface HostReading {
  budgetBytes: number;
  usedBytes: number;
  /** Busy share of the CPUs this process may use, 0..1, everything but sluice itself. */
  cpuFraction: number;
  /** CPUs this process may use (the cgroup quota, else all). */
  cores: number;
  /**
   * Share of the last interval sluice's own event loop was busy, 0..1 (absent: not measured). Every
   * child costs it a little (starting it, reading its end, committing its item); when it is
   * saturated another child only waits in its queue, so the number does not grow past it.
   */
  loopBusy?: number;
}

/** Event-loop busy share above which no child is added, and (twice in a row) one is taken away. */
const LOOP_BUSY = 0.85;

/** One running child as sampled. */
export interface ChildReading {
  id: number;
  startedAt: number;
  rssBytes: number;
  /** RSS at the sample before, to tell a child still growing from one that settled. */
  previousRssBytes: number;
  /** CPUs it used since the sample before. */
  cpuCores: number;
}

export interface Decision {
  from: number;
  to: number;
  message: string;
  /** A child to stop now (its item goes back untouched). */
  stop?: number;
}

/** Finished children remembered for what one costs. */
const REMEMBERED = 32;

const pct = (f: number) => `${Math.round(f * 100)} %`;

export class ChildCapacity {
  readonly max: number;
  readonly memoryThreshold: number;
  readonly cpuThreshold: number;
  readonly criticalMemory: number;
  readonly settleMs: number;
  #limit: number;
  /** Peak RSS and mean CPUs of recently finished children. */
  readonly #finished: { rssBytes: number; cpuCores: number }[] = [];
  #lastIncreaseAt = Number.NEGATIVE_INFINITY;
  /** Start time of the latest-started child that finished: it proved the last increase if after it. */
  #provedUpTo = Number.NEGATIVE_INFINITY;
  #cpuOver = 0;
  #loopOver = 0;
  /** The host reading the last increase was decided on. */
  #grewOn: HostReading | undefined;
  #stopHoldUntil = Number.NEGATIVE_INFINITY;
  #cpuHoldUntil = Number.NEGATIVE_INFINITY;

  constructor(options: CapacityOptions = {}) {
    this.max = Math.max(1, options.max ?? 256);
    this.#limit = Math.min(this.max, Math.max(1, options.initial ?? 2));
    this.memoryThreshold = options.memoryThreshold ?? 0.75;
    this.cpuThreshold = options.cpuThreshold ?? 0.75;
    this.criticalMemory = Math.max(this.memoryThreshold, options.criticalMemory ?? 0.9);
    this.settleMs = options.settleMs ?? 2000;
  }

  get limit(): number {
    return this.#limit;
  }

  /** A child ended: what it took teaches what the next one will. */
  finished(child: { startedAt: number; peakRssBytes: number; cpuCores: number }): void {
    this.#finished.push({ rssBytes: child.peakRssBytes, cpuCores: child.cpuCores });
    if (this.#finished.length > REMEMBERED) this.#finished.shift();
    this.#provedUpTo = Math.max(this.#provedUpTo, child.startedAt);
  }

  /** What one more child is expected to take: the most any recent or running child took (children vary). */
  expected(children: readonly ChildReading[]): { rssBytes: number; cpuCores: number } | undefined {
    if (this.#finished.length === 0 && !children.some((c) => c.rssBytes > 0)) return undefined;
    let rssBytes = 0;
    let cpu = 0;
    let n = 0;
    for (const f of this.#finished) {
      rssBytes = Math.max(rssBytes, f.rssBytes);
      cpu += f.cpuCores;
      n += 1;
    }
    for (const c of children) {
      rssBytes = Math.max(rssBytes, c.rssBytes);
      cpu += c.cpuCores;
      n += 1;
    }
    return { rssBytes, cpuCores: n > 0 ? cpu / n : 0 };
  }

  /**
   * Decides from one reading; `inUse` is how many slots are taken (a child may be starting).
   * Returns the change, if any, with its reason.
   */
  decide(
    host: HostReading,
    children: readonly ChildReading[],
    inUse: number,
    now: number,
  ): Decision | undefined {
    const from = this.#limit;
    const running = children.length;
    const budget = Math.max(1, host.budgetBytes);
    const memory = host.usedBytes / budget;
    const one = this.expected(children);
    const each = one ? `, one child ≈ ${bytes(one.rssBytes)}` : '';
    this.#cpuOver = host.cpuFraction > this.cpuThreshold ? this.#cpuOver + 1 : 0;
    const loopBusy = host.loopBusy ?? 0;
    this.#loopOver = loopBusy > LOOP_BUSY ? this.#loopOver + 1 : 0;

    if (memory >= this.criticalMemory && running >= 2 && now >= this.#stopHoldUntil) {
      // The only child is never stopped: started again it would take as much, and nothing would be gained.
      const youngest = children.reduce((a, b) => (b.startedAt > a.startedAt ? b : a));
      this.#stopHoldUntil = now + this.settleMs;
      return this.#set(
        Math.max(1, running - 1),
        `memory ${pct(memory)} ≥ ${pct(this.criticalMemory)} (critical)${each}: stopping the youngest child, its item goes back`,
        youngest.id,
      );
    }
    if (memory > this.memoryThreshold) {
      const others = host.usedBytes - children.reduce((sum, c) => sum + c.rssBytes, 0);
      const fit =
        one && one.rssBytes > 0
          ? Math.floor((this.memoryThreshold * budget - others) / one.rssBytes)
          : running - 1;
      const to = Math.max(1, Math.min(from - 1, running - 1, fit));
      if (to < from) return this.#set(to, `memory ${pct(memory)} > ${pct(this.memoryThreshold)}${each}`);
      return undefined;
    }
    // CPU comes in bursts (a child loading, another's allocation): one cut, then a settle time to see its effect.
    if (this.#cpuOver >= 2 && from > 1 && now >= this.#cpuHoldUntil) {
      this.#cpuOver = 0;
      this.#cpuHoldUntil = now + this.settleMs;
      return this.#set(
        Math.max(1, Math.min(from - 1, running)),
        `CPU ${pct(host.cpuFraction)} > ${pct(this.cpuThreshold)}`,
      );
    }
    // sluice's own loop saturated: the children it has already keep it busy; more only queue.
    if (this.#loopOver >= 2 && from > 1 && now >= this.#cpuHoldUntil) {
      this.#loopOver = 0;
      this.#cpuHoldUntil = now + this.settleMs;
      return this.#set(
        Math.max(1, Math.min(from - 1, inUse)),
        `sluice's event loop ${pct(loopBusy)} busy > ${pct(LOOP_BUSY)}: more children would only queue`,
      );
    }
    // Growth: only while the limit is in use, the last increase has proved itself, and one more fits,
    // and at most once per reading of the host: children that end at once (trivial commands) each
    // prove the last increase, and deciding on every end from one reading ran the number up to its
    // cap within a second, on a host that reading no longer described.
    if (inUse < from || from >= this.max || host === this.#grewOn || !this.#proved(children, now))
      return undefined;
    const rss = one?.rssBytes ?? 0;
    // Children still below what one takes will grow into it: count that before adding another.
    const growing = children.reduce((sum, c) => sum + Math.max(0, rss - c.rssBytes), 0);
    const memoryWith = (host.usedBytes + growing + rss) / budget;
    const cpuWith = host.cpuFraction + (one?.cpuCores ?? 0) / Math.max(1, host.cores);
    if (memoryWith > this.memoryThreshold || cpuWith > this.cpuThreshold || loopBusy > LOOP_BUSY)
      return undefined;
    this.#lastIncreaseAt = now;
    this.#grewOn = host;
    return this.#set(
      from + 1,
      `one more fits: memory ${pct(memoryWith)} and CPU ${pct(cpuWith)} with it${each}`,
    );
  }

  /** Spawning failed (EAGAIN, ENOMEM): go on with fewer. */
  spawnFailed(inUse: number, reason: string): Decision | undefined {
    const to = Math.max(1, Math.min(this.#limit - 1, inUse - 1));
    if (to >= this.#limit) return undefined;
    return this.#set(to, `a child could not be started (${reason})`);
  }

  #proved(children: readonly ChildReading[], now: number): boolean {
    if (this.#provedUpTo > Number.NEGATIVE_INFINITY && this.#provedUpTo >= this.#lastIncreaseAt) return true;
    return children.some(
      (c) =>
        c.startedAt >= this.#lastIncreaseAt &&
        now - c.startedAt >= this.settleMs &&
        c.rssBytes <= c.previousRssBytes * 1.1,
    );
  }

  #set(to: number, reason: string, stop?: number): Decision {
    const from = this.#limit;
    this.#limit = to;
    return {
      from,
      to,
      message: `children ${from} -> ${to}: ${reason}`,
      ...(stop === undefined ? {} : { stop }),
    };
  }
}
