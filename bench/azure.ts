// Azure path: the same question over a storage container, against Azurite (in memory) behind a
// loopback proxy that adds a fixed delay to every request, like a real round trip to Azure.
// sluice against what users write with the SDK: a plain promise pool of 16, 64, 100 and 256, on a
// short job (a few hundred large blobs: ramping up must cost nothing) and a long one (thousands of
// small blobs: the limit sluice settles at must be worth the best fixed pool).
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { uploadFolder } from '../src/sources/azure/upload.js';
import { connectionStringFor, DEV_ACCOUNT, startAzurite } from '../test/support/azurite.js';
import { startFaultProxy } from '../test/support/fault-proxy.js';
import { type Attempt, attemptsData, parsed, runRounds, sluiceAttempt } from './local.js';
import { judge, type Summary, signed, verdictCells } from './support/check.js';
import { cachedDataset, type Dataset, type DatasetSpec, ROOT, sizeLabel } from './support/dataset.js';
import { measure, rssMethod } from './support/measure.js';
import type { BenchOptions, Section } from './support/section.js';
import { requireBuild, runSluice } from './support/sluice.js';
import { median, mib, ratio, seconds, secondsRange, thousands } from './support/stats.js';
import { markdownTable } from './support/table.js';

/** The short job is a few hundred blobs of ~350 KB; the long one thousands of ~25 KB. */
export const AZURE_JOBS: Record<'full' | 'quick', { name: string; spec: DatasetSpec }[]> = {
  full: [
    { name: 'short', spec: { size: 180e6, seed: 11, days: 3 } },
    { name: 'long', spec: { size: 60e6, seed: 11, days: 14 } },
  ],
  quick: [
    { name: 'short', spec: { size: 20e6, seed: 11, days: 1 } },
    { name: 'long', spec: { size: 8e6, seed: 11, days: 2 } },
  ],
};
/** Added to every request by the proxy: a same-region round trip to a storage account. */
export const DELAY_MS = 30;
/** The fixed pools: what "make it parallel" usually looks like, from cautious to reckless. */
export const POOLS = [16, 64, 100, 256];
/** The pool whose peak RSS sluice must stay under. */
const RSS_POOL = 100;

type Contender = Parameters<typeof runRounds>[0][number];

function poolName(size: number): string {
  return `SDK promise pool, ${size} at once`;
}

function contenders(container: string, viaProxy: string, scratch: string, ds: Dataset): Contender[] {
  const sluice: Contender = {
    name: 'sluice ingest azure:// + report',
    async run(index) {
      const r = await runSluice(
        `azure://${DEV_ACCOUNT}/${container}`,
        join(scratch, `azure-${container}-${index}.db`),
        ds.truth,
        // JSON progress lines carry every change of the limit, shown under the table.
        ['--connection-string', viaProxy, '--progress', 'json'],
      );
      const report = r.summary as Summary & { items?: { failed?: number } };
      return sluiceAttempt(r, {
        failed: report.items?.failed ?? null,
        limits: limitChanges(r.ingest.stderr),
      });
    },
  };
  const pools = POOLS.map(
    (size): Contender => ({
      name: poolName(size),
      async run() {
        const m = await measure(
          process.execPath,
          [join(ROOT, 'bench/naive/azure-download.mjs'), container, String(size)],
          { AZURE_STORAGE_CONNECTION_STRING: viaProxy },
        );
        const summary = parsed<Summary & { failed?: number; firstError?: string }>(m);
        return {
          ms: m.wallMs,
          peakRss: m.peakRss,
          summary,
          detail: { failed: summary.failed ?? null, firstError: summary.firstError },
        };
      },
    }),
  );
  return [sluice, ...pools];
}

/** The `concurrency` events of sluice's JSON progress: how the limit moved, and when since the start. */
function limitChanges(stderr: string): string[] {
  const changes: string[] = [];
  let first: number | undefined;
  for (const line of stderr.split('\n')) {
    const start = line.includes('"event":"start"');
    if (!start && !line.includes('"event":"concurrency"')) continue;
    const e = JSON.parse(line) as { ts: string; from: number; to: number };
    const at = Date.parse(e.ts);
    first ??= at;
    if (start) continue;
    changes.push(`+${((at - first) / 1000).toFixed(1)}s ${e.from}->${e.to}`);
  }
  return changes;
}

interface JobResult {
  name: string;
  ds: Dataset;
  upload: { blobs: number; bytes: number; ms: number };
  contenders: Contender[];
  attempts: Map<string, Attempt[]>;
}

function medianOk(list: Attempt[]): number | null {
  const ok = list.filter((a) => !a.summary.error && a.verdict.recordsDelta === 0);
  return ok.length > 0 ? median(ok.map((a) => a.ms)) : null;
}

function jobTable(job: JobResult): { table: string; notes: string[] } {
  const times = new Map(job.contenders.map((c) => [c.name, medianOk(job.attempts.get(c.name) ?? [])]));
  const poolTimes = POOLS.map((p) => times.get(poolName(p))).filter((t): t is number => t != null);
  const best = poolTimes.length > 0 ? Math.min(...poolTimes) : null;
  const bestPool = POOLS.find((p) => times.get(poolName(p)) === best);
  const rows = job.contenders.map((c) => {
    const list = job.attempts.get(c.name) ?? [];
    const answered = list.filter((a) => !a.summary.error);
    const ms = (answered.length > 0 ? answered : list).map((a) => a.ms);
    const rss = list.map((a) => a.peakRss).filter((x): x is number => x !== null);
    const last = list[list.length - 1] as Attempt;
    const exact = list.filter((a) => a.verdict.recordsDelta === 0 && a.verdict.byModelMatch).length;
    const notes: string[] = [];
    if (c === job.contenders[0] && answered.length > 0) {
      notes.push(
        `ingest ${secondsRange(answered.map((a) => a.detail.ingestMs as number))} + report ${secondsRange(answered.map((a) => a.detail.reportMs as number))}`,
      );
      const contract = last.detail.contractDiffs as string[] | null;
      if (contract)
        notes.push(contract.length === 0 ? 'full report = truth.json' : `${contract.length} contract diffs`);
    }
    const failed = list.map((a) => a.detail.failed).filter((f): f is number => typeof f === 'number');
    if (failed.some((f) => f > 0)) notes.push(`failed blobs per run: ${failed.join(', ')}`);
    const firstError = list.map((a) => a.detail.firstError).find((e) => typeof e === 'string');
    if (firstError) notes.push(`first failure: ${String(firstError).slice(0, 160)}`);
    if (last.verdict.recordsDelta !== null && last.verdict.recordsDelta !== 0)
      notes.push(`${signed(last.verdict.recordsDelta)} records vs truth`);
    const time = times.get(c.name);
    return {
      contender: c.name,
      'time to answer': answered.length > 0 ? secondsRange(ms) : 'no answer',
      'vs best pool': time != null && best !== null ? ratio(time, best) : 'n/a',
      'peak RSS': rss.length > 0 ? mib(Math.max(...rss)) : 'n/a',
      requests: list.length > 0 ? thousands(median(list.map((a) => a.detail.requests as number))) : 'n/a',
      'exact answers': `${exact}/${list.length}`,
      ...verdictCells(answered.length > 0 ? last.verdict : judge(last.summary, job.ds.truth)),
      notes: notes.join('; '),
    };
  });
  const sluiceRuns = job.attempts.get(job.contenders[0]?.name ?? '') ?? [];
  const notes = [
    `${job.name} job: \`sluice synth --size ${sizeLabel(job.ds.size)} --seed ${job.ds.seed} --days ${job.ds.days}\`, ${thousands(job.upload.blobs)} blobs (${sizeLabel(job.upload.bytes)}, ${Math.round(job.upload.bytes / job.upload.blobs / 1000)} KB each on average), uploaded as append blobs (untimed, ${seconds(job.upload.ms)}). Best fixed pool: ${bestPool ?? 'none'}.`,
    ...sluiceRuns.map(
      (a, i) =>
        `sluice run ${i + 1} (${seconds(a.ms)}) limit changes: ${(a.detail.limits as string[]).slice(0, 8).join(' | ') || 'none'}${(a.detail.limits as string[]).length > 8 ? ` | ... (${(a.detail.limits as string[]).length} in all)` : ''}`,
    ),
  ];
  return {
    table: markdownTable(
      [
        'contender',
        'time to answer',
        'vs best pool',
        'peak RSS',
        'requests',
        'exact answers',
        'records',
        'classes',
        'p50/p95/p99',
        'byModel',
        'notes',
      ],
      rows,
    ),
    notes,
  };
}

export async function runAzure(o: BenchOptions): Promise<Section> {
  requireBuild();
  const jobs = o.quick ? AZURE_JOBS.quick : AZURE_JOBS.full;
  const datasets: Dataset[] = [];
  for (const job of jobs) datasets.push(await cachedDataset(job.spec, o.say));
  const azurite = await startAzurite();
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: azurite.port }, { delayMs: DELAY_MS });
  const results: JobResult[] = [];
  const loadBefore = loadavg();
  try {
    const viaProxy = connectionStringFor(proxy.endpoint(DEV_ACCOUNT));
    const direct = BlobServiceClient.fromConnectionString(azurite.connectionString);
    for (const [i, job] of jobs.entries()) {
      const ds = datasets[i] as Dataset;
      // Straight to Azurite, not through the proxy: uploading is set-up, not the benchmark.
      const started = performance.now();
      const up = await uploadFolder(ds.dir, direct.getContainerClient(job.name), {
        include: (id) => id.endsWith('PT1H.json'),
        concurrency: 16,
      });
      const upload = { ...up, ms: performance.now() - started };
      o.say(
        `azure ${job.name}: uploaded ${thousands(up.blobs)} blobs (${sizeLabel(up.bytes)}) in ${seconds(upload.ms)}`,
      );
      // Each run counts the requests the proxy saw, so the rounds are wrapped to read them.
      const list = contenders(job.name, viaProxy, o.scratch, ds).map(
        (c): Contender => ({
          ...c,
          async run(index) {
            proxy.resetCounters();
            const a = await c.run(index);
            const n = proxy.counters();
            return { ...a, detail: { ...a.detail, requests: n.list + n.get + n.other } };
          },
        }),
      );
      const attempts = await runRounds(list, o.runs, ds.truth, (line) => o.say(`${job.name}${line}`));
      results.push({ name: job.name, ds, upload, contenders: list, attempts });
    }
  } finally {
    await proxy.close();
    await azurite.stop();
  }
  const loadAfter = loadavg();

  const tables = results.map((job) => ({ job, ...jobTable(job) }));
  const summary = results.map((job) => {
    const sluice = job.attempts.get(job.contenders[0]?.name ?? '') ?? [];
    const pools = POOLS.map((p) => medianOk(job.attempts.get(poolName(p)) ?? [])).filter(
      (t): t is number => t !== null,
    );
    const sluiceMs = medianOk(sluice);
    const rss = (name: string) => Math.max(0, ...(job.attempts.get(name) ?? []).map((a) => a.peakRss ?? 0));
    return {
      job: job.name,
      sluiceMs,
      bestPoolMs: pools.length > 0 ? Math.min(...pools) : null,
      sluiceRss: rss(job.contenders[0]?.name ?? ''),
      poolRss: rss(poolName(RSS_POOL)),
    };
  });
  return {
    name: 'azure',
    title: `Azure container via Azurite + ${DELAY_MS} ms per request: sluice against fixed SDK pools of ${POOLS.join(', ')}`,
    table: tables
      .map((t) => `**${t.job.name} job** (${thousands(t.job.upload.blobs)} blobs)\n\n${t.table}`)
      .join('\n\n'),
    notes: [
      ...tables.flatMap((t) => t.notes),
      `Every request from every contender goes through a loopback proxy that waits ${DELAY_MS} ms before forwarding it (test/support/fault-proxy.ts, no faults injected); "requests" is what the proxy saw (list + get + other), median of the runs. Azurite runs on this same ${availableParallelism()}-core machine, so it competes for CPU with the contender; load average ${loadBefore.map((x) => x.toFixed(1)).join('/')} before, ${loadAfter.map((x) => x.toFixed(1)).join('/')} after.`,
      `sluice runs with its defaults (no --concurrency). The pools are bench/naive/azure-download.mjs: list with the SDK, then N workers each downloading (download() + stream to Buffer) and tallying one blob at a time. Time to answer: median of ${o.runs} run(s), round-robin, (min–max); sluice's is ingest + report. "vs best pool" = median / the fastest pool's median, from this same run. "exact answers" = runs whose records and byModel matched truth.json.`,
      `Peak RSS: ${rssMethod()}, highest of the runs. The one-blob-at-a-time loop is left out: at ${DELAY_MS} ms a request it takes minutes and says nothing about the pools.`,
      ...summary.map(
        (s) =>
          `${s.job}: sluice ${s.sluiceMs === null ? 'no exact answer' : seconds(s.sluiceMs)} vs best pool ${s.bestPoolMs === null ? 'n/a' : seconds(s.bestPoolMs)} (${s.sluiceMs !== null && s.bestPoolMs !== null ? ratio(s.sluiceMs, s.bestPoolMs) : 'n/a'}); peak RSS sluice ${mib(s.sluiceRss)} vs ${RSS_POOL}-way pool ${mib(s.poolRss)}.`,
      ),
    ],
    data: {
      delayMs: DELAY_MS,
      load: { before: loadBefore, after: loadAfter },
      summary,
      jobs: results.map((job) => ({
        name: job.name,
        dataset: { ...job.ds, dir: relative(ROOT, job.ds.dir), truth: undefined },
        upload: job.upload,
        attempts: attemptsData(job.attempts),
      })),
    },
  };
}
