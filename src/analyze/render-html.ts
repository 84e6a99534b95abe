// The analysis as one self-contained HTML page: the same figures as `--format json`, with charts
// inline as SVG (levels, error categories, top templates, training curves).
import { barChartSvg, lineChartSvg } from '../render/chart.js';
import { chart, escapeHtml, figures, renderPage, type Section, table } from '../render/page.js';
import type { Analysis } from './combine.js';
import { LEVELS } from './levels.js';
import { trainingCharts } from './plots.js';

const LEVEL_COLOURS: Record<string, string> = {
  TRACE: '#94a3b8',
  DEBUG: '#64748b',
  INFO: '#2563eb',
  NOTICE: '#0891b2',
  WARNING: '#d97706',
  ERROR: '#dc2626',
  CRITICAL: '#7f1d1d',
};

const fmt = (v: number | string | null | undefined) =>
  v === null || v === undefined
    ? '-'
    : typeof v === 'number' && !Number.isInteger(v)
      ? Number(v.toPrecision(6))
      : v;

export function renderHtml(a: Analysis): string {
  return renderPage({
    title: 'sluice analyze',
    subtitle: `${a.files.length} file${a.files.length === 1 ? '' : 's'}, ${a.events} events, health ${a.health.score}/100 (${a.health.grade})`,
    sections: analysisSections(a),
  });
}

/** The page's sections: also those of `report --format html` for an `analyze --store` job. */
export function analysisSections(a: Analysis): Section[] {
  const sections: Section[] = [];
  const lines = a.files.reduce((sum, f) => sum + f.lines, 0);
  const h = a.health;
  sections.push({
    title: 'Summary',
    id: 'summary',
    html:
      figures([
        {
          label: `health (grade ${h.grade})`,
          value: h.score,
          key: 'health.score',
          tone: h.score >= 75 ? 'good' : h.score >= 60 ? 'warn' : 'bad',
        },
        { label: 'events', value: a.events, key: 'events' },
        { label: 'lines', value: lines, key: 'lines' },
        {
          label: 'errors',
          value: a.errors.total,
          key: 'errors.total',
          tone: a.errors.total > 0 ? 'bad' : 'good',
        },
        { label: 'templates', value: a.templateCount, key: 'templateCount' },
        ...(a.api.requests > 0
          ? [
              { label: 'API requests', value: a.api.requests, key: 'api.requests' },
              { label: 'p95 latency (ms)', value: fmt(a.api.latencyMs.p95), key: 'api.latencyMs.p95' },
            ]
          : []),
      ]) +
      `<p class="muted">${escapeHtml(a.timeRange.first ? `${a.timeRange.first} .. ${a.timeRange.last}` : 'no timestamps')}</p>` +
      table(
        ['file', 'format', 'lines', 'events', 'skipped'],
        a.files.map((f) => [
          { html: `<span class="mono">${escapeHtml(f.path)}</span>`, sort: f.path },
          f.format,
          f.lines,
          f.events,
          f.skipped ?? '',
        ]),
      ),
  });
  sections.push({
    title: 'Health',
    id: 'health',
    html:
      table(
        ['reason', 'points'],
        h.penalties.map((p) => [p.reason, -p.points]),
      ) +
      (h.recommendations.length
        ? `<h3>Recommendations</h3><ul>${h.recommendations.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>`
        : '') +
      `<details><summary>How the score is computed</summary><pre>${escapeHtml(h.formula)}</pre></details>`,
  });
  const shownLevels = LEVELS.filter((l) => a.levels[l] > 0);
  sections.push({
    title: 'Levels',
    id: 'levels',
    html:
      (shownLevels.length
        ? chart(
            barChartSvg({
              title: 'Events by level',
              categories: [...shownLevels],
              values: shownLevels.map((l) => a.levels[l]),
              colors: shownLevels.map((l) => LEVEL_COLOURS[l] ?? '#2563eb'),
            }),
            'events by level',
          )
        : '') +
      table(
        ['level', 'events'],
        [...LEVELS.map((l) => [l, a.levels[l]]), ['(no level)', a.eventsWithoutLevel]],
      ),
  });
  if (a.errors.byCategory.length > 0) {
    sections.push({
      title: 'Errors by category',
      id: 'errors',
      html:
        chart(
          barChartSvg({
            title: 'Errors by category',
            categories: a.errors.byCategory.map((c) => c.category),
            values: a.errors.byCategory.map((c) => c.count),
            colors: ['#dc2626'],
          }),
          'errors by category',
        ) +
        table(
          ['category', 'severity', 'count', 'advice', 'examples'],
          a.errors.byCategory.map((c) => [
            c.category,
            c.severity,
            c.count,
            c.advice,
            {
              html: c.examples
                .map(
                  (e) =>
                    `<div class="mono">${escapeHtml(`${e.file}:${e.line}`)} ${escapeHtml(e.message)}</div>`,
                )
                .join(''),
            },
          ]),
        ),
    });
  }
  if (a.templates.length > 0) {
    sections.push({
      title: `Templates (top ${a.templates.length} of ${a.templateCount})`,
      id: 'templates',
      html: table(
        ['id', 'count', 'level', 'template', 'first seen', 'last seen'],
        a.templates.map((t) => [
          t.id,
          t.count,
          t.level ?? '',
          { html: `<code>${escapeHtml(t.template)}</code>`, sort: t.template },
          t.firstSeen ?? '',
          t.lastSeen ?? '',
        ]),
      ),
    });
  }
  for (const run of a.training) {
    const metrics = [...new Set(run.epochs.flatMap((e) => Object.keys(e)))].filter((k) => k !== 'epoch');
    const o = run.overfitting;
    sections.push({
      title: `Training: ${run.file} (${run.framework})`,
      html:
        figures([
          { label: 'epochs', value: run.epochs.length },
          { label: 'best epoch (lowest val_loss)', value: run.bestEpoch ?? '-' },
          {
            label: 'overfitting from epoch',
            value: o.detected ? (o.fromEpoch ?? '-') : 'no',
            tone: o.detected ? 'warn' : 'good',
          },
          {
            label: 'NaN/inf losses',
            value: run.nonFinite.length,
            tone: run.nonFinite.length ? 'bad' : 'good',
          },
        ]) +
        trainingCharts(run)
          .map((c) => chart(lineChartSvg(c.spec), c.spec.title))
          .join('') +
        table(
          ['epoch', ...metrics],
          run.epochs.map((e) => [e.epoch, ...metrics.map((m) => fmt(e[m]))]),
          { numeric: [true, ...metrics.map(() => true)] },
        ),
    });
  }
  if (a.api.requests > 0) {
    const l = a.api.latencyMs;
    const codes = Object.entries(a.api.statusCodes).sort();
    sections.push({
      title: 'API requests',
      id: 'api',
      html:
        chart(
          barChartSvg({
            title: 'Requests by status code',
            categories: codes.map(([c]) => c),
            values: codes.map(([, n]) => n),
            colors: codes.map(([c]) =>
              c.startsWith('5')
                ? '#dc2626'
                : c === '429'
                  ? '#d97706'
                  : c.startsWith('4')
                    ? '#f59e0b'
                    : '#16a34a',
            ),
          }),
          'requests by status code',
        ) +
        table(
          ['count', 'mean', 'p50', 'p95', 'p99', 'max'],
          [[l.count, fmt(l.mean), fmt(l.p50), fmt(l.p95), fmt(l.p99), fmt(l.max)]],
          { caption: 'latency (ms)' },
        ) +
        `<p>Slow requests (≥ ${a.api.slowRequests.thresholdMs} ms): <b data-key="api.slowRequests.count">${a.api.slowRequests.count}</b></p>` +
        table(
          ['where', 'endpoint', 'status', 'ms'],
          a.api.slowRequests.examples.map((e) => [`${e.file}:${e.line}`, e.endpoint, e.status, e.durationMs]),
        ) +
        table(
          ['endpoint', 'requests', '5xx', 'p50 ms', 'p95 ms', 'p99 ms'],
          a.api.byEndpoint
            .slice(0, 100)
            .map((e) => [
              e.endpoint,
              e.requests,
              e.serverErrors,
              fmt(e.latencyMs.p50),
              fmt(e.latencyMs.p95),
              fmt(e.latencyMs.p99),
            ]),
          { caption: 'per endpoint (ids folded)' },
        ),
    });
  }
  const sk = a.skipped;
  if (sk.longLines + sk.invalidUtf8Lines + sk.files.length > 0) {
    sections.push({
      title: 'Skipped input',
      html: table(
        ['what', 'count or reason'],
        [
          ['lines over the line cap', sk.longLines],
          ['lines with invalid UTF-8 (read with replacement characters)', sk.invalidUtf8Lines],
          ...sk.files.map((f) => [f.path, f.reason]),
        ],
      ),
    });
  }
  return sections;
}
