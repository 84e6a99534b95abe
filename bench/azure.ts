// Azure path: the same question over a storage container, against Azurite (in memory) behind a
// loopback proxy that adds a fixed delay to every request, like a real round trip to Azure.
// sluice against what users write with the SDK: a sequential download loop and a 100-way pool.
import { join, relative } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { uploadFolder } from '../src/sources/azure/upload.js';
import { connectionStringFor, DEV_ACCOUNT, startAzurite } from '../test/support/azurite.js';
import { startFaultProxy } from '../test/support/fault-proxy.js';
import { judge, type Summary, signed, type Verdict, verdictCells } from './support/check.js';
import { cachedDataset, ROOT, sizeLabel } from './support/dataset.js';
import { lastLine, measure, rssMethod } from './support/measure.js';
import type { BenchOptions, Section } from './support/section.js';
import { requireBuild, runSluice } from './support/sluice.js';
import { mib, ratio, seconds, thousands } from './support/stats.js';
import { markdownTable } from './support/table.js';

export const AZURE_DATASET = {
  full: { size: 60e6, seed: 11, days: 14 },
  quick: { size: 8e6, seed: 11, days: 2 },
};
/** Added to every request by the proxy: a same-region round trip to a storage account. */
export const DELAY_MS = 30;
const CONTAINER = 'bench';
const POOL = 100;

interface Result {
  name: string;
  ms: number | null;
  peakRss: number | null;
  requests: number | null;
  failed: number | null;
  summary: Summary;
  verdict: Verdict | null;
  notes: string[];
}

export async function runAzure(o: BenchOptions): Promise<Section> {
  requireBuild();
  const spec = o.quick ? AZURE_DATASET.quick : AZURE_DATASET.full;
  const ds = await cachedDataset(spec, o.say);
  const azurite = await startAzurite();
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: azurite.port }, { delayMs: DELAY_MS });
  const results: Result[] = [];
  let upload = { blobs: 0, bytes: 0, ms: 0 };
  try {
    // Straight to Azurite, not through the proxy: uploading is set-up, not the benchmark.
    const started = performance.now();
    const direct = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      CONTAINER,
    );
    const up = await uploadFolder(ds.dir, direct, {
      include: (id) => id.endsWith('PT1H.json'),
      concurrency: 16,
    });
    upload = { ...up, ms: performance.now() - started };
    o.say(`azure: uploaded ${thousands(up.blobs)} blobs (${sizeLabel(up.bytes)}) in ${seconds(upload.ms)}`);

    const viaProxy = connectionStringFor(proxy.endpoint(DEV_ACCOUNT));
    const requests = () => {
      const c = proxy.counters();
      return c.list + c.get + c.other;
    };

    proxy.resetCounters();
    const s = await runSluice(`azure://${DEV_ACCOUNT}/${CONTAINER}`, join(o.scratch, 'azure.db'), ds.truth, [
      '--connection-string',
      viaProxy,
    ]);
    const sluiceNotes: string[] = [];
    if (s.notAvailable) sluiceNotes.push(`not available in this build: ${lastLine(s.ingest.stderr)}`);
    else if (s.summary.error) sluiceNotes.push(`failed: ${s.summary.error}`);
    else {
      sluiceNotes.push(`ingest ${seconds(s.ingest.wallMs)} + report ${seconds(s.report?.wallMs ?? 0)}`);
      if (s.contractDiffs) {
        sluiceNotes.push(
          s.contractDiffs.length === 0
            ? 'full report = truth.json'
            : `${s.contractDiffs.length} contract diffs`,
        );
      }
    }
    const report = s.summary as Summary & { items?: { failed?: number } };
    results.push({
      name: 'sluice ingest azure:// + report',
      ms: s.summary.error ? null : s.ingest.wallMs + (s.report?.wallMs ?? 0),
      peakRss: s.summary.error ? null : s.ingest.peakRss,
      requests: s.summary.error ? null : requests(),
      failed: report.items?.failed ?? null,
      summary: s.summary,
      verdict: s.summary.error ? null : judge(s.summary, ds.truth),
      notes: sluiceNotes,
    });
    o.say(`  sluice: ${results[0]?.ms === null ? sluiceNotes.join('; ') : seconds(results[0]?.ms ?? 0)}`);

    for (const [name, concurrency] of [
      ['SDK loop, one blob at a time', 1],
      [`SDK promise pool, ${POOL} at once`, POOL],
    ] as const) {
      proxy.resetCounters();
      const m = await measure(
        process.execPath,
        [join(ROOT, 'bench/naive/azure-download.mjs'), CONTAINER, String(concurrency)],
        { AZURE_STORAGE_CONNECTION_STRING: viaProxy },
      );
      let summary: Summary & { failed?: number; firstError?: string };
      try {
        summary = m.code === 0 ? JSON.parse(m.stdout) : { error: lastLine(m.stderr) || `exit ${m.code}` };
      } catch {
        summary = { error: `unreadable output: ${lastLine(m.stdout)}` };
      }
      const notes = summary.error ? [`failed: ${summary.error}`] : [];
      if (summary.firstError) notes.push(`first failure: ${summary.firstError.slice(0, 160)}`);
      results.push({
        name,
        ms: summary.error ? null : m.wallMs,
        peakRss: m.peakRss,
        requests: requests(),
        failed: summary.failed ?? null,
        summary,
        verdict: summary.error ? null : judge(summary, ds.truth),
        notes,
      });
      o.say(`  ${name}: ${summary.error ? summary.error : seconds(m.wallMs)}`);
    }
  } finally {
    await proxy.close();
    await azurite.stop();
  }

  const base = results[0]?.ms ?? null;
  const sequential = results[1]?.ms ?? null;
  const rows = results.map((r) => {
    if (r.verdict && r.verdict.recordsDelta !== 0)
      r.notes.push(`${signed(r.verdict.recordsDelta ?? 0)} records vs truth`);
    return {
      contender: r.name,
      'time to answer': r.ms === null ? 'no answer' : seconds(r.ms),
      'vs sluice': r.ms !== null && base !== null ? ratio(r.ms, base) : 'n/a',
      'vs sequential': r.ms !== null && sequential !== null ? ratio(r.ms, sequential) : 'n/a',
      'peak RSS': mib(r.peakRss),
      requests: r.requests === null ? 'n/a' : thousands(r.requests),
      'failed blobs': r.failed === null ? 'n/a' : thousands(r.failed),
      ...verdictCells(r.verdict),
      notes: r.notes.join('; '),
    };
  });
  const diffNotes = results.flatMap((r) =>
    r.verdict && r.verdict.diffs.length > 0 ? [`${r.name} vs truth: ${r.verdict.diffs.join(' | ')}`] : [],
  );
  return {
    name: 'azure',
    title: `Azure container via Azurite + ${DELAY_MS} ms per request: ${sizeLabel(ds.size)}, ${thousands(ds.blobs)} blobs`,
    table: markdownTable(
      [
        'contender',
        'time to answer',
        'vs sluice',
        'vs sequential',
        'peak RSS',
        'requests',
        'failed blobs',
        'records',
        'classes',
        'p50/p95/p99',
        'byModel',
        'notes',
      ],
      rows,
    ),
    notes: [
      `Dataset: \`sluice synth --size ${sizeLabel(ds.size)} --seed ${ds.seed} --days ${ds.days}\` (${relative(ROOT, ds.dir)}), ${thousands(upload.blobs)} blobs uploaded as append blobs into one container of an in-memory Azurite (untimed, ${seconds(upload.ms)}).`,
      `Every request from every contender goes through a loopback proxy that waits ${DELAY_MS} ms before forwarding it (test/support/fault-proxy.ts, no faults injected); "requests" is what the proxy saw (list + get + other). Azurite runs on this same 2-core machine, so it competes for CPU with the contender.`,
      'sluice runs with its defaults (no --concurrency). Each contender ran once (the sequential loop is the long one). "vs sluice" = contender time / sluice time; "vs sequential" = contender time / the one-at-a-time loop time, both from this run.',
      `Peak RSS: ${rssMethod()}. Failed blobs: items sluice marked failed / downloads that threw after the SDK's own retries.`,
      ...diffNotes,
    ],
    data: {
      dataset: {
        dir: relative(ROOT, ds.dir),
        ...spec,
        blobs: ds.blobs,
        bytes: ds.bytes,
        records: ds.records,
      },
      delayMs: DELAY_MS,
      upload,
      rows,
      results: results.map(({ summary, ...r }) => ({ ...r, error: summary.error })),
    },
  };
}
