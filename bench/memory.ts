// Memory: sluice's peak RSS on a dataset and on one four times bigger (four times the blobs of
// the same size, as when a user asks about four months instead of one), next to the plain Node
// script, which holds every latency in memory to sort it.
import { join, relative } from 'node:path';
import { LOCAL_DATASET } from './local.js';
import { judge, type Summary, verdictCells } from './support/check.js';
import {
  cachedDataset,
  type Dataset,
  type DatasetSpec,
  ROOT,
  sizeLabel,
  warmPageCache,
} from './support/dataset.js';
import { lastLine, measure, rssMethod } from './support/measure.js';
import type { BenchOptions, Section } from './support/section.js';
import { requireBuild, runSluice } from './support/sluice.js';
import { mib, seconds, thousands } from './support/stats.js';
import { markdownTable } from './support/table.js';

const SCALE = 4;

interface Point {
  peakRss: number | null;
  ms: number;
  summary: Summary;
}

async function sluicePoint(ds: Dataset, store: string): Promise<Point> {
  const r = await runSluice(ds.dir, store, ds.truth);
  return { peakRss: r.ingest.peakRss, ms: r.ingest.wallMs, summary: r.summary };
}

async function nodePoint(ds: Dataset): Promise<Point> {
  const m = await measure(process.execPath, [join(ROOT, 'bench/naive/node-local.mjs'), ds.dir]);
  const summary: Summary = m.code === 0 ? JSON.parse(m.stdout) : { error: lastLine(m.stderr) };
  return { peakRss: m.peakRss, ms: m.wallMs, summary };
}

export async function runMemory(o: BenchOptions): Promise<Section> {
  requireBuild();
  const small: DatasetSpec = o.quick ? LOCAL_DATASET.quick : LOCAL_DATASET.full;
  const big: DatasetSpec = { size: small.size * SCALE, seed: small.seed, days: small.days * SCALE };
  const sets = [await cachedDataset(small, o.say), await cachedDataset(big, o.say)];
  for (const ds of sets) warmPageCache(ds.dir);
  const contenders = [
    {
      name: 'sluice ingest',
      run: (ds: Dataset, i: number) => sluicePoint(ds, join(o.scratch, `memory-${i}.db`)),
    },
    { name: 'naive Node (readline + JSON.parse)', run: (ds: Dataset) => nodePoint(ds) },
  ];
  const points = new Map<string, Point[]>();
  for (const c of contenders) {
    const list: Point[] = [];
    for (const [i, ds] of sets.entries()) {
      const p = await c.run(ds, i);
      list.push(p);
      o.say(`  ${c.name} @ ${sizeLabel(ds.size)}: ${mib(p.peakRss)} in ${seconds(p.ms)}`);
    }
    points.set(c.name, list);
  }
  const [a, b] = sets as [Dataset, Dataset];
  const la = sizeLabel(a.size);
  const lb = sizeLabel(b.size);
  const rows = contenders.map((c): Record<string, string> => {
    const [pa, pb] = points.get(c.name) as [Point, Point];
    const rss = (p: Point) => (p.summary.error ? 'failed' : mib(p.peakRss));
    const ok = !pa.summary.error && !pb.summary.error && pa.peakRss && pb.peakRss;
    return {
      contender: c.name,
      [`peak RSS @ ${la}`]: rss(pa),
      [`peak RSS @ ${lb}`]: rss(pb),
      [`RSS ${lb} / ${la}`]: ok ? `${((pb.peakRss as number) / (pa.peakRss as number)).toFixed(2)}×` : 'n/a',
      [`time @ ${la}`]: seconds(pa.ms),
      [`time @ ${lb}`]: seconds(pb.ms),
      [`records @ ${lb}`]: verdictCells(judge(pb.summary, b.truth)).records,
    };
  });
  const failures = contenders.flatMap((c) =>
    (points.get(c.name) as Point[]).flatMap((p, i) =>
      p.summary.error
        ? [`${c.name} @ ${sizeLabel((sets[i] as Dataset).size)} failed: ${p.summary.error}`]
        : [],
    ),
  );
  return {
    name: 'memory',
    title: `Memory: peak RSS at ${la} and ${lb} (${SCALE}× the blobs)`,
    table: markdownTable(Object.keys(rows[0] ?? {}), rows),
    notes: [
      ...sets.map(
        (ds) =>
          `${sizeLabel(ds.size)}: \`sluice synth --size ${sizeLabel(ds.size)} --seed ${ds.seed} --days ${ds.days}\` (${relative(ROOT, ds.dir)}), ${thousands(ds.blobs)} blobs, ${thousands(ds.records)} records.`,
      ),
      ...failures,
      `Peak RSS: ${rssMethod()}; one run each (ingest only for sluice, into a fresh store). Both datasets were read once, untimed, first (page cache warm). Times are single runs on a noisy machine: for scale only.`,
    ],
    data: {
      datasets: sets.map((ds) => ({
        dir: relative(ROOT, ds.dir),
        size: ds.size,
        seed: ds.seed,
        days: ds.days,
        blobs: ds.blobs,
        records: ds.records,
      })),
      rows,
      points: Object.fromEntries(
        [...points].map(([k, list]) => [
          k,
          list.map((p) => ({ peakRss: p.peakRss, ms: p.ms, error: p.summary.error })),
        ]),
      ),
    },
  };
}
