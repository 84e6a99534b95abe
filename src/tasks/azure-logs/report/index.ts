// The azure-logs task's report: the `report --format json` object of DESIGN.md, built from the
// job's aggregates, and its text, CSV and HTML forms.
import type { TaskReport } from '../../index.js';
import { buildReport, type Report } from './build.js';
import { renderCsv } from './csv.js';
import { azureLogsSections } from './html.js';
import { renderText } from './text.js';

export const azureLogsReport: TaskReport = {
  build: async ({ job, status, aggregates }) => buildReport(job, status, aggregates),
  text: (report) => renderText(report as Report),
  csv: (report) => renderCsv(report as Report),
  htmlSections: (report) => azureLogsSections(report as Report),
};
