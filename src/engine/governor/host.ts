// Real host sampling for the governor: the memory sluice can still use, busy CPU, event-loop lag.
// Linux cgroup limits (v2 and v1) count, so in a container its 2 GiB is the budget, not the host's 64.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import type { HostSample } from './controller.js';

export interface HostSampler {
  sample(): HostSample;
  /** Stops the event-loop monitor. */
  close(): void;
}

/** Reads a text file; undefined when it is not there (another OS, no cgroup, no permission). */
export type ReadText = (path: string) => string | undefined;

/** What memory looks like from this process, in bytes. */
export interface MemoryFacts {
  /** Resident memory of this process (all its threads). */
  rss: number;
  /** Memory the host could still give: MemAvailable (free plus reclaimable cache). */
  hostAvailable: number;
  totalMem: number;
  /** The JS heap in use, and the most V8 will grow it to before "heap out of memory". */
  heapUsed: number;
  heapLimit: number;
}

/**
 * The share of the memory sluice could use that it is using: rss / (rss + spare), where spare is
 * what the host could still give us (MemAvailable) and, in a cgroup, what is left under its limit
 * (usage less inactive file cache, which the kernel reclaims before it kills). Measured against what
 * is spare rather than against total memory, so a laptop whose browser holds 80 % of RAM does not
 * pin us to 1, while us eating the last free gigabytes does count. The JS heap against V8's own
 * limit counts too: it kills the process long before the host runs out.
 */
export function memoryFraction(facts: MemoryFacts, cgroup: CgroupMemory | undefined): number {
  let spare = facts.hostAvailable;
  if (cgroup) spare = Math.min(spare, Math.max(0, cgroup.limit - cgroup.used));
  const budget = Math.min(facts.totalMem, cgroup?.limit ?? Number.POSITIVE_INFINITY);
  spare = Math.min(spare, Math.max(0, budget - facts.rss));
  const host = facts.rss + spare > 0 ? facts.rss / (facts.rss + spare) : 1;
  const heap = facts.heapLimit > 0 ? facts.heapUsed / facts.heapLimit : 0;
  return Math.min(1, Math.max(host, heap));
}

export interface CgroupMemory {
  limit: number;
  /** Usage without inactive file cache, which the kernel reclaims before it kills anyone. */
  used: number;
}

const CGROUP_ROOT = '/sys/fs/cgroup';
// cgroup v1 writes "no limit" as a page-rounded 2^63; anything this large is no limit.
const UNLIMITED = 2 ** 60;

/** The memory limit and usage of this process's cgroup, v2 or v1, or undefined if it has no limit. */
export function readCgroupMemory(read: ReadText): CgroupMemory | undefined {
  const groups = parseProcCgroup(read('/proc/self/cgroup') ?? '');
  const v2 = groups.get('');
  if (v2 !== undefined && read(`${CGROUP_ROOT}/cgroup.controllers`) !== undefined) {
    // The effective limit is the smallest along the path to the root.
    let limit = Number.POSITIVE_INFINITY;
    for (const dir of ancestors(`${CGROUP_ROOT}${v2}`))
      limit = Math.min(limit, number(read(`${dir}/memory.max`)));
    const dir = [`${CGROUP_ROOT}${v2}`, CGROUP_ROOT].find((d) => read(`${d}/memory.current`) !== undefined);
    if (!(limit < UNLIMITED) || dir === undefined) return undefined;
    const used =
      number(read(`${dir}/memory.current`)) - statField(read(`${dir}/memory.stat`), 'inactive_file');
    return { limit, used };
  }
  const v1 = groups.get('memory');
  if (v1 === undefined) return undefined;
  // In a cgroup namespace the process's own group is mounted at the root.
  const base = `${CGROUP_ROOT}/memory`;
  const dir = [`${base}${v1}`, base].find((d) => read(`${d}/memory.usage_in_bytes`) !== undefined);
  if (dir === undefined) return undefined;
  const stat = read(`${dir}/memory.stat`);
  const limit = Math.min(
    number(read(`${dir}/memory.limit_in_bytes`)),
    statField(stat, 'hierarchical_memory_limit'),
  );
  if (!(limit < UNLIMITED)) return undefined;
  return {
    limit,
    used: number(read(`${dir}/memory.usage_in_bytes`)) - statField(stat, 'total_inactive_file'),
  };
}

/** CPU this cgroup may use, in cores, if a quota caps it. */
export function readCgroupCpuQuota(read: ReadText): number | undefined {
  const groups = parseProcCgroup(read('/proc/self/cgroup') ?? '');
  const v2 = groups.get('');
  let cores = Number.POSITIVE_INFINITY;
  if (v2 !== undefined && read(`${CGROUP_ROOT}/cgroup.controllers`) !== undefined) {
    for (const dir of ancestors(`${CGROUP_ROOT}${v2}`)) {
      const [quota, period] = (read(`${dir}/cpu.max`) ?? '').trim().split(/\s+/).map(Number);
      if (quota !== undefined && period !== undefined && quota > 0 && period > 0) {
        cores = Math.min(cores, quota / period);
      }
    }
  } else {
    const v1 = groups.get('cpu');
    for (const base of [`${CGROUP_ROOT}/cpu`, `${CGROUP_ROOT}/cpu,cpuacct`]) {
      for (const dir of v1 === undefined ? [base] : [`${base}${v1}`, base]) {
        const quota = number(read(`${dir}/cpu.cfs_quota_us`));
        const period = number(read(`${dir}/cpu.cfs_period_us`));
        if (Number.isFinite(quota) && quota > 0 && period > 0) cores = Math.min(cores, quota / period);
      }
    }
  }
  return Number.isFinite(cores) ? cores : undefined;
}

export interface HostSamplerOptions {
  /** For tests: where files are read from. */
  read?: ReadText;
  /** How often the event loop is checked, in ms. Default 20. */
  lagResolutionMs?: number;
}

/**
 * Samples the real host. CPU is the busy share since the previous sample: of the cgroup's quota
 * when one caps us (a container's 2 cores are its whole machine), else of all cores. Event-loop
 * lag is the longest a timer ran late since the previous sample.
 */
export function createHostSampler(options: HostSamplerOptions = {}): HostSampler {
  const read = options.read ?? readText;
  const lag = watchEventLoop(options.lagResolutionMs ?? 20);
  const quota = readCgroupCpuQuota(read);
  let cpuBefore = cpuTimes();
  let usageBefore = process.cpuUsage();
  let wallBefore = performance.now();

  const cpuFraction = (): number => {
    const cpuNow = cpuTimes();
    const usageNow = process.cpuUsage();
    const wallNow = performance.now();
    let fraction: number;
    if (quota !== undefined) {
      // Our own usage against the quota: close enough when sluice is what the container runs.
      const usedMs = (usageNow.user - usageBefore.user + usageNow.system - usageBefore.system) / 1000;
      fraction = wallNow > wallBefore ? usedMs / (quota * (wallNow - wallBefore)) : 0;
    } else {
      // What everything but sluice uses: our own parser threads saturating the cores is the work
      // going as fast as it can, not a host in trouble; others needing the CPU is.
      const total = cpuNow.total - cpuBefore.total;
      const busy = total > 0 ? 1 - (cpuNow.idle - cpuBefore.idle) / total : 0;
      const oursMs = (usageNow.user - usageBefore.user + usageNow.system - usageBefore.system) / 1000;
      const capacityMs = os.cpus().length * (wallNow - wallBefore);
      fraction = busy - (capacityMs > 0 ? oursMs / capacityMs : 0);
    }
    cpuBefore = cpuNow;
    usageBefore = usageNow;
    wallBefore = wallNow;
    return Math.min(1, Math.max(0, fraction));
  };

  return {
    sample(): HostSample {
      const heap = v8.getHeapStatistics();
      const facts: MemoryFacts = {
        rss: process.memoryUsage.rss(),
        hostAvailable: meminfoAvailable(read) ?? os.freemem(),
        totalMem: os.totalmem(),
        heapUsed: heap.used_heap_size,
        heapLimit: heap.heap_size_limit,
      };
      return {
        memoryFraction: memoryFraction(facts, readCgroupMemory(read)),
        cpuFraction: cpuFraction(),
        eventLoopLagMs: lag.takeWorst(),
      };
    },
    close(): void {
      lag.stop();
    },
  };
}

/**
 * A timer every `resolutionMs` notes how late it fires. Not perf_hooks.monitorEventLoopDelay: its
 * reset() drops the first period after it, so a parse that blocks right after a sample was missed.
 */
function watchEventLoop(resolutionMs: number): { takeWorst(): number; stop(): void } {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - resolutionMs);
    last = now;
  }, resolutionMs);
  timer.unref();
  return {
    takeWorst() {
      const value = worst;
      worst = 0;
      return value;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** MemAvailable from /proc/meminfo in bytes; os.freemem() elsewhere (on macOS it omits cache). */
export function meminfoAvailable(read: ReadText): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(read('/proc/meminfo') ?? '');
  return m ? Number(m[1]) * 1024 : undefined;
}

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

/** `/proc/self/cgroup` lines `id:controllers:path`: path by controller, '' for cgroup v2. */
export function parseProcCgroup(text: string): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, controllers = '', path = '/'] = m;
    for (const c of controllers.split(',')) groups.set(c, path === '/' ? '' : path);
  }
  return groups;
}

function ancestors(dir: string): string[] {
  const dirs: string[] = [];
  for (let d = dir; d.startsWith(CGROUP_ROOT); d = d.slice(0, d.lastIndexOf('/'))) {
    dirs.push(d);
  }
  return dirs;
}

/** A number file's value; "max" and missing files are no limit. */
function number(text: string | undefined): number {
  const value = Number((text ?? '').trim());
  return text === undefined || text.trim() === 'max' || Number.isNaN(value)
    ? Number.POSITIVE_INFINITY
    : value;
}

function statField(text: string | undefined, field: string): number {
  const m = new RegExp(`^${field} (\\d+)$`, 'm').exec(text ?? '');
  return m ? Number(m[1]) : field.endsWith('limit') ? Number.POSITIVE_INFINITY : 0;
}
