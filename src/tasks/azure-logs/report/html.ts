// The azure-logs task's sections of `report --format html`: status classes (shares that add up
// to 100 %), 429s and failures per day, models and versions, latency, time range. Every figure is
// one of `report --format json`'s, marked with its key (data-key) so tests and scripts find it.
import { barChartSvg, lineChartSvg } from '../../../render/chart.js';
import { chart, escapeHtml, figures, type Section, table } from '../../../render/page.js';
import { num } from '../../../report/html.js';
import type { Report } from './build.js';
import { sharesThatAddUp } from './text.js';

const CLASSES = [
  ['success', 'success (2xx)', '#16a34a'],
  ['rateLimited', 'rate limited (429)', '#d97706'],
  ['clientError', 'client errors (other 4xx)', '#7c3aed'],
  ['serverError', 'server errors (5xx)', '#dc2626'],
  ['noStatus', 'no status', '#64748b'],
] as const;

/** The columns of a row of counts by status class, and its cells. */
const COUNT_HEADERS = ['records', 'success', 'rate limited', 'client errors', 'server errors', 'no status'];
const counts = (d: Omit<Report['byDay'][number], 'day'>) => [
  d.records,
  d.success,
  d.rateLimited,
  d.clientError,
  d.serverError,
  d.noStatus,
];

const label = (m: { model: string | null; version: string | null }) =>
  `${m.model ?? '(no model)'}${m.version ? ` ${m.version}` : ''}`;

export function azureLogsSections(r: Report): Section[] {
  const sections: Section[] = [];
  const shares = sharesThatAddUp(CLASSES.map(([k]) => r.statusClasses[k]));
  sections.push({
    title: 'Records',
    id: 'records',
    html:
      figures([
        { label: 'records', value: num(r.records), key: 'records' },
        ...CLASSES.map(([k, text], i) => ({
          label: `${text} · ${shares[i]?.toFixed(1)} %`,
          value: num(r.statusClasses[k]),
          key: `statusClasses.${k}`,
          tone:
            k === 'success'
              ? undefined
              : r.statusClasses[k] > 0 && k !== 'noStatus'
                ? ('warn' as const)
                : undefined,
        })),
        { label: 'malformed lines', value: num(r.malformedLines), key: 'malformedLines' },
      ]) +
      `<p class="muted">time range (UTC, from each record's own time): <span data-key="timeRange.first">${escapeHtml(r.timeRange.first ?? '-')}</span> .. <span data-key="timeRange.last">${escapeHtml(r.timeRange.last ?? '-')}</span>${r.recordsWithoutTime > 0 ? ` · ${num(r.recordsWithoutTime)} records without a time` : ''}</p>` +
      table(
        ['status code', 'records', 'share %'],
        Object.entries(r.statusCodes).map(([code, n]) => [
          code,
          n,
          r.records > 0 ? Math.round((n * 1000) / r.records) / 10 : 0,
        ]),
      ),
  });
  if (r.byDay.length > 0) {
    sections.push({
      title: 'Per day',
      id: 'days',
      html:
        chart(
          lineChartSvg({
            title: 'Rate limited (429) and failed calls per day',
            x: r.byDay.map((d) => d.day),
            xName: 'day (UTC)',
            yName: 'records',
            series: [
              { name: 'rate limited (429)', values: r.byDay.map((d) => d.rateLimited) },
              { name: 'server errors (5xx)', values: r.byDay.map((d) => d.serverError) },
              { name: 'client errors (other 4xx)', values: r.byDay.map((d) => d.clientError), dashed: true },
            ],
            width: 900,
          }),
          '429s and failures per day',
        ) +
        table(
          ['day', ...COUNT_HEADERS],
          r.byDay.map((d) => [d.day, ...counts(d)]),
        ),
    });
  }
  if (r.byModel.length > 0) {
    const top = r.byModel.slice(0, 15);
    sections.push({
      title: 'Per model and version',
      id: 'models',
      html:
        chart(
          barChartSvg({
            title: `Records per model and version${r.byModel.length > top.length ? ` (top ${top.length})` : ''}`,
            categories: top.map(label),
            values: top.map((m) => m.records),
            horizontal: true,
            width: 900,
            height: 60 + 28 * top.length,
          }),
          'records per model and version',
        ) +
        chart(
          barChartSvg({
            title: 'Rate limited (429) per model and version',
            categories: top.map(label),
            values: top.map((m) => m.rateLimited),
            colors: ['#d97706'],
            horizontal: true,
            width: 900,
            height: 60 + 28 * top.length,
          }),
          '429s per model and version',
        ) +
        table(
          ['model', 'version', ...COUNT_HEADERS],
          r.byModel.map((m) => [m.model ?? '(none)', m.version ?? '', ...counts(m)]),
        ),
    });
  }
  sections.push({
    title: 'Latency (ms)',
    id: 'latency',
    html:
      figures([
        { label: 'p50', value: num(r.latencyMs.p50), key: 'latencyMs.p50' },
        { label: 'p95', value: num(r.latencyMs.p95), key: 'latencyMs.p95' },
        { label: 'p99', value: num(r.latencyMs.p99), key: 'latencyMs.p99' },
        { label: 'max', value: num(r.latencyMs.max), key: 'latencyMs.max' },
        { label: 'records with a latency', value: num(r.latencyMs.count), key: 'latencyMs.count' },
      ]) +
      table(
        ['model', 'version', 'with latency', 'p50', 'p95', 'p99'],
        r.byModel
          .filter((m) => m.latencyMs.count > 0)
          .map((m) => [
            m.model ?? '(none)',
            m.version ?? '',
            m.latencyMs.count,
            m.latencyMs.p50,
            m.latencyMs.p95,
            m.latencyMs.p99,
          ]),
      ),
  });
  const named = [
    ['Per deployment', 'deployments', r.byDeployment],
    ['Per operation', 'operations', r.byOperation],
  ] as const;
  for (const [title, id, rows] of named) {
    if (rows.length === 0) continue;
    sections.push({
      title,
      id,
      html: table(
        ['name', ...COUNT_HEADERS],
        rows.map((d) => [d.name ?? '(none)', ...counts(d)]),
      ),
    });
  }
  return sections;
}
