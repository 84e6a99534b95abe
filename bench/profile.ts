// Where sluice spends its time: runs one ingest of the local dataset under `node --cpu-prof` and
// prints the functions with the most self time (on the main thread, which is where the profile is).
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LOCAL_DATASET } from './local.js';
import { cachedDataset, sizeLabel, warmPageCache } from './support/dataset.js';
import type { BenchOptions, Section } from './support/section.js';
import { requireBuild, runSluice } from './support/sluice.js';
import { seconds } from './support/stats.js';
import { markdownTable } from './support/table.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const TOP = 15;

/** Self time per function (µs), summed over every node of the same function. */
export function selfTimes(profile: CpuProfile, thread: string): SelfTime[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, SelfTime>();
  profile.samples.forEach((id, i) => {
    const frame = byNode.get(id)?.callFrame;
    if (!frame) return;
    const name = frame.functionName || '(anonymous)';
    const where = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = totals.get(key) ?? { thread, name, where, us: 0 };
    entry.us += profile.timeDeltas[i] ?? 0;
    totals.set(key, entry);
  });
  return [...totals.values()];
}

interface SelfTime {
  thread: string;
  name: string;
  where: string;
  us: number;
}

export async function runProfile(o: BenchOptions): Promise<Section> {
  requireBuild();
  const ds = await cachedDataset(o.quick ? LOCAL_DATASET.quick : LOCAL_DATASET.full, o.say);
  warmPageCache(ds.dir);
  const dir = join(o.scratch, 'cpu-profile');
  const run = await runSluice(ds.dir, join(o.scratch, 'profile.db'), ds.truth, [], {}, [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
  ]);
  // One file per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, thread 0 the main one.
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no .cpuprofile written in ${dir}`);
  const times = files
    .flatMap((f) => {
      const thread = f.split('.')[4] === '0' ? 'main' : 'worker';
      return selfTimes(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile, thread);
    })
    .reduce((merged, t) => {
      const key = `${t.thread}|${t.name}|${t.where}`;
      const m = merged.get(key);
      if (m) m.us += t.us;
      else merged.set(key, { ...t });
      return merged;
    }, new Map<string, SelfTime>());
  const sorted = [...times.values()].sort((a, b) => b.us - a.us);
  const sampled = (thread: string) => sorted.filter((t) => t.thread === thread).reduce((s, t) => s + t.us, 0);
  const rows = sorted.slice(0, TOP).map((t) => ({
    thread: t.thread,
    function: t.name,
    where: t.where,
    'self time': seconds(t.us / 1000),
    'share of its thread': `${((100 * t.us) / sampled(t.thread)).toFixed(1)} %`,
  }));
  const workers = files.length - 1;
  return {
    name: 'profile',
    title: `Profile: sluice ingest of ${sizeLabel(ds.size)} (${ds.blobs} blobs), top ${TOP} by self time`,
    table: markdownTable(['thread', 'function', 'where', 'self time', 'share of its thread'], rows),
    notes: [
      `One ingest under node --cpu-prof, page cache warm: ${seconds(run.ingest.wallMs)} wall; sampled ${seconds(sampled('main') / 1000)} on the main thread${workers > 0 ? ` and ${seconds(sampled('worker') / 1000)} over ${workers} worker thread(s)` : ' (no worker threads)'}. "(idle)" is a thread waiting (the main thread e.g. for file reads on libuv's pool); atomicsWaitLoop is a pool worker waiting for its next task.`,
    ],
    data: { wallMs: run.ingest.wallMs, threads: files.length, top: sorted.slice(0, 40) },
  };
}
