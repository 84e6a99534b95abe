// `report --format html` for any job: one self-contained page (src/render) with the task's own
// sections (azure-logs: status classes, days, models, latency) or, for a task without them, its
// report's figures and lists as tables; then what every job has: items, failures, runs, decisions.

import { reportTables } from '../query/tables.js';
import { barChartSvg, lineChartSvg } from '../render/chart.js';
import { chart, escapeHtml, figures, renderPage, type Section, table } from '../render/page.js';
import { concurrencyChange } from '../serve/monitor.js';
import type { JobStatus } from '../store/types.js';

/** Numbers as the JSON has them, with thousands separators; null as a dash. */
export function num(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v !== 'number') return String(v);
  return v.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

const time = (ms: number | null) =>
  ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** The task-independent part of the job: its items, as status counts them. */
function itemsSection(status: JobStatus): Section {
  const i = status.items;
  return {
    title: 'Items',
    id: 'items',
    html:
      figures([
        { label: 'items', value: num(i.total), key: 'items.total' },
        {
          label: 'done',
          value: num(i.done),
          key: 'items.done',
          tone: i.done === i.total ? 'good' : undefined,
        },
        {
          label: 'pending',
          value: num(i.pending),
          key: 'items.pending',
          tone: i.pending > 0 ? 'warn' : undefined,
        },
        { label: 'failed', value: num(i.failed), key: 'items.failed', tone: i.failed > 0 ? 'bad' : 'good' },
      ]) +
      `<p class="muted">${escapeHtml(`${status.source} · task ${status.task} · listing ${status.listingComplete ? 'complete' : 'incomplete'}`)}</p>`,
  };
}

function failuresSection(status: JobStatus): Section | null {
  if (status.failures.length === 0) return null;
  return {
    title: `Failed items${status.items.failed > status.failures.length ? ` (first ${status.failures.length} of ${num(status.items.failed)})` : ''}`,
    id: 'failures',
    html: table(
      ['item', 'attempts', 'last error'],
      status.failures.map((f) => [
        { html: `<span class="mono">${escapeHtml(f.id)}</span>`, sort: f.id },
        f.attempts,
        f.error,
      ]),
    ),
  };
}

function runsSection(status: JobStatus): Section | null {
  if (status.runs.length === 0) return null;
  const stat = (r: JobStatus['runs'][number], k: string) => r.stats[k] ?? null;
  return {
    title: 'Run history',
    id: 'runs',
    html: table(
      [
        'run',
        'started (UTC)',
        'took (s)',
        'outcome',
        'items',
        'failed',
        'item retries',
        'requests',
        'throttled',
        'by',
      ],
      status.runs.map((r) => [
        r.id,
        time(r.startedAt),
        r.endedAt === null ? null : Math.round((r.endedAt - r.startedAt) / 100) / 10,
        r.outcome ?? 'running or killed',
        stat(r, 'processed'),
        stat(r, 'failed'),
        stat(r, 'retries'),
        stat(r, 'http.requests'),
        stat(r, 'http.throttled'),
        r.owner,
      ]),
    ),
  };
}

function decisionsSection(status: JobStatus): Section | null {
  if (status.events.length === 0) return null;
  // Oldest first for the chart: the limit after each decision.
  const changes = [...status.events]
    .reverse()
    .map((e) => ({ e, change: concurrencyChange(e.message) }))
    .filter((c) => c.change !== null);
  const plot =
    changes.length >= 2
      ? chart(
          lineChartSvg({
            title: 'Concurrency limit after each decision',
            x: changes.map((c) => new Date(c.e.at).toISOString().slice(11, 19)),
            xName: 'time (UTC)',
            yName: 'items at once',
            series: [{ name: 'limit', values: changes.map((c) => c.change?.to ?? null) }],
          }),
          'concurrency limit over time',
        )
      : '';
  return {
    title: 'Concurrency decisions (latest first)',
    id: 'decisions',
    html:
      plot +
      table(
        ['run', 'at (UTC)', 'decision'],
        status.events.map((e) => [e.run, time(e.at), e.message]),
      ),
  };
}

/**
 * A report without sections of its own: its lists and counts as tables (as `sluice query` sees
 * them), each map of counts (exit codes, status codes) with a bar chart.
 */
function genericSections(report: object): Section[] {
  return reportTables(report, new Set(['items'])).map((t) => {
    const rows = [...(t.rows() as Iterable<unknown[]>)].map((row) =>
      row.map((v) =>
        v === null || v === undefined
          ? null
          : typeof v === 'object'
            ? JSON.stringify(v)
            : (v as string | number),
      ),
    );
    const counts =
      t.columns.length === 2 && t.columns[1]?.type === 'BIGINT' && rows.length > 0 && rows.length <= 30;
    const plot = counts
      ? chart(
          barChartSvg({
            title: `${t.columns[1]?.name} by ${t.columns[0]?.name}`,
            categories: rows.map((r) => String(r[0])),
            values: rows.map((r) => Number(r[1])),
          }),
          t.name,
        )
      : '';
    return {
      title: t.name,
      id: `table-${t.name}`,
      html:
        plot +
        table(
          t.columns.map((c) => c.name),
          rows,
        ),
    };
  });
}

export interface ReportPage {
  report: object;
  status: JobStatus;
  /** The task's own sections (e.g. azureLogsSections); without them, the report's tables. */
  sections?: Section[];
}

export function renderReportHtml({ report, status, sections }: ReportPage): string {
  // A report with its own list of failures (a command's exit code, where its output went) shows
  // that one rather than the store's.
  const ownFailures = !sections && Array.isArray((report as { failures?: unknown }).failures);
  const all = [
    itemsSection(status),
    ...(sections ?? genericSections(report)),
    ownFailures ? null : failuresSection(status),
    runsSection(status),
    decisionsSection(status),
  ].filter((s): s is Section => s !== null);
  return renderPage({
    title: `sluice report: ${status.job}`,
    subtitle: `${status.task} · ${status.source}`,
    sections: all,
  });
}
