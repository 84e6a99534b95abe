// The azure-logs task's report: the `report --format json` object of DESIGN.md, and its text and
// CSV forms, built from the job's aggregates.
import { buildReport, type Report } from '../../report/build.js';
import { renderCsv } from '../../report/csv.js';
import { renderText } from '../../report/text.js';
import type { TaskReport } from '../index.js';

export const azureLogsReport: TaskReport = {
  build: async ({ job, status, aggregates }) => buildReport(job, status, aggregates),
  text: (report) => renderText(report as Report),
  csv: (report) => renderCsv(report as Report),
};
