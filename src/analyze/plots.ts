// Loss and accuracy curves of each training run (training against validation, the best epoch
// marked), as chart specs for pages and as SVG and PNG files for `--plots <dir>`.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { type LineChartSpec, lineChartSvg, svgToPng } from '../render/chart.js';
import type { Analysis, JsonTrainingRun } from './combine.js';

const value = (v: number | string | undefined): number | null => (typeof v === 'number' ? v : null);

/** The loss chart and, when the run has accuracy, the accuracy chart. */
export function trainingCharts(run: JsonTrainingRun): { kind: 'loss' | 'accuracy'; spec: LineChartSpec }[] {
  const x = run.epochs.map((e) => e.epoch as number);
  const has = (metric: string) => run.epochs.some((e) => metric in e);
  const mark =
    run.bestEpoch === null ? undefined : { x: run.bestEpoch, label: `best epoch ${run.bestEpoch}` };
  const charts: { kind: 'loss' | 'accuracy'; spec: LineChartSpec }[] = [];
  for (const kind of ['loss', 'accuracy'] as const) {
    const series = [
      { name: `training ${kind}`, values: run.epochs.map((e) => value(e[kind])) },
      { name: `validation ${kind}`, values: run.epochs.map((e) => value(e[`val_${kind}`])), dashed: true },
    ].filter((_, i) => has(i === 0 ? kind : `val_${kind}`));
    if (series.length === 0) continue;
    charts.push({
      kind,
      spec: {
        title: `${path.basename(run.file)}: ${kind}`,
        x,
        xName: 'epoch',
        yName: kind,
        series,
        ...(mark ? { mark } : {}),
      },
    });
  }
  return charts;
}

/** Writes `<name>-loss.svg/.png` and `<name>-accuracy.svg/.png` per run; returns the paths. */
export async function writePlots(analysis: Analysis, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot create the plots folder ${dir}: ${error.code ?? error.message}`);
  });
  const written: string[] = [];
  const used = new Set<string>();
  for (const run of analysis.training) {
    let name =
      path
        .basename(run.file)
        .replace(/\.[^.]+$/, '')
        .replace(/[^\w.-]+/g, '_') || 'stdin';
    for (let n = 2; used.has(name); n++) name = `${name}-${n}`;
    used.add(name);
    for (const { kind, spec } of trainingCharts(run)) {
      const svg = lineChartSvg(spec);
      const base = path.join(dir, `${name}-${kind}`);
      await writeFile(`${base}.svg`, svg);
      await writeFile(`${base}.png`, svgToPng(svg));
      written.push(`${base}.svg`, `${base}.png`);
    }
  }
  return written;
}
