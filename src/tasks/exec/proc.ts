// What each child's process group uses now, from /proc: resident memory (the sum of VmRSS of its
// processes, grandchildren included) and CPU time. Linux only; elsewhere every group reads as empty.
import { readdirSync, readFileSync } from 'node:fs';

export interface GroupUsage {
  /** Sum of VmRSS of the group's live processes. */
  rssBytes: number;
  /** utime + stime of the group's live processes, ms (a process that ended takes its time with it). */
  cpuMs: number;
  processes: number;
}

/** Linux reports CPU times in USER_HZ ticks, 100 a second on every architecture it supports. */
const MS_PER_TICK = 10;

/** The process group and CPU ms of one /proc/<pid>/stat line; undefined if it does not parse. */
export function parseStat(text: string): { pgrp: number; cpuMs: number } | undefined {
  // The command name is in parentheses and may itself hold spaces or parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
  const pgrp = Number(fields[2]);
  const cpuMs = (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  return Number.isInteger(pgrp) && Number.isFinite(cpuMs) ? { pgrp, cpuMs } : undefined;
}

/** VmRSS of a /proc/<pid>/status, bytes (0 for a kernel thread or a zombie). */
export function parseVmRss(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export interface ProcReader {
  pids(): string[];
  read(path: string): string | undefined;
}

const realProc: ProcReader = {
  pids: () => {
    try {
      return readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    } catch {
      return [];
    }
  },
  read: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined; // the process ended between listing and reading
    }
  },
};

/** Usage of each of `groups` (process group ids), one pass over /proc for all of them. */
export function readGroups(
  groups: ReadonlySet<number>,
  proc: ProcReader = realProc,
): Map<number, GroupUsage> {
  const usage = new Map<number, GroupUsage>();
  if (groups.size === 0) return usage;
  for (const pid of proc.pids()) {
    const stat = proc.read(`/proc/${pid}/stat`);
    const parsed = stat === undefined ? undefined : parseStat(stat);
    if (!parsed || !groups.has(parsed.pgrp)) continue;
    const rssBytes = parseVmRss(proc.read(`/proc/${pid}/status`) ?? '');
    const group = usage.get(parsed.pgrp) ?? { rssBytes: 0, cpuMs: 0, processes: 0 };
    group.rssBytes += rssBytes;
    group.cpuMs += parsed.cpuMs;
    group.processes += 1;
    usage.set(parsed.pgrp, group);
  }
  return usage;
}
