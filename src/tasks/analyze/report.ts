// The report of an `analyze` job (`sluice report --job analyze:...`): the analysis of every file
// done so far, combined as `sluice analyze` combines them, from the store alone.
import type { Analysis } from '../../analyze/combine.js';
import { DRAIN_DEFAULTS } from '../../analyze/drain.js';
import { renderCsv } from '../../analyze/render-csv.js';
import { analysisSections } from '../../analyze/render-html.js';
import { renderText } from '../../analyze/render-text.js';
import type { TaskReport } from '../index.js';
import { analysisOfJob, type CombineOptions } from './index.js';

/** The combine options an analyze job was run with, from its filters (see `analyzeJobFilters`). */
export function combineOptionsOf(filters: Record<string, unknown>): CombineOptions {
  const number = (key: string, fallback: number) =>
    typeof filters[key] === 'number' ? (filters[key] as number) : fallback;
  return {
    slowMs: number('slowMs', 1000),
    drain: {
      ...DRAIN_DEFAULTS,
      similarity: number('similarity', DRAIN_DEFAULTS.similarity),
      depth: number('depth', DRAIN_DEFAULTS.depth),
    },
  };
}

export const analyzeReport: TaskReport = {
  async build({ job, store }) {
    const spec = (await store.listJobs()).find((j) => j.name === job);
    return analysisOfJob(store, job, combineOptionsOf(spec?.filters ?? {}));
  },
  text: (report) => renderText(report as Analysis, { color: false, top: 10 }),
  csv: (report) => renderCsv(report as Analysis),
  // The analyze page's own sections (charts, tables), inside the report page of the job.
  htmlSections: (report) => analysisSections(report as Analysis),
};
