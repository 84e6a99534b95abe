// The report as one CSV table: a row per (section, key), so spreadsheets and scripts can pivot it.

import { escapeCsvCell } from '../../../report/escape.js';
import type { Report } from './build.js';

const COLUMNS = [
  'section',
  'day',
  'model',
  'version',
  'name',
  'records',
  'success',
  'rateLimited',
  'clientError',
  'serverError',
  'noStatus',
  'p50Ms',
  'p95Ms',
  'p99Ms',
] as const;

export function renderCsv(r: Report): string {
  const rows: Record<string, unknown>[] = [];
  rows.push({
    section: 'total',
    records: r.records,
    ...r.statusClasses,
    p50Ms: r.latencyMs.p50,
    p95Ms: r.latencyMs.p95,
    p99Ms: r.latencyMs.p99,
  });
  for (const m of r.byModel) {
    rows.push({
      section: 'model',
      ...m,
      p50Ms: m.latencyMs.p50,
      p95Ms: m.latencyMs.p95,
      p99Ms: m.latencyMs.p99,
    });
  }
  for (const d of r.byDay) rows.push({ section: 'day', ...d });
  for (const [section, list] of [
    ['deployment', r.byDeployment],
    ['operation', r.byOperation],
    ['category', r.byCategory],
    ['resource', r.byResource],
  ] as const) {
    for (const row of list) rows.push({ section, ...row });
  }
  const lines = [COLUMNS.join(',')];
  for (const row of rows) lines.push(COLUMNS.map((c) => escapeCsvCell(row[c])).join(','));
  return `${lines.join('\n')}\n`;
}
