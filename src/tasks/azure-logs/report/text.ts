// The human report: totals, outcome shares that add up to 100 %, per model and version, per day,
// latency percentiles and the time range, as aligned plain-text tables.

import { escapeTerminal } from '../../../report/escape.js';
import { MAX_DISTINCT } from '../caps.js';
import type { ClassCounts, Report } from './build.js';

/** Shares of `parts` in tenths of a percent that add up to exactly 100.0 (largest remainder). */
export function sharesThatAddUp(parts: number[]): number[] {
  const total = parts.reduce((a, b) => a + b, 0);
  if (total === 0) return parts.map(() => 0);
  const exact = parts.map((p) => (p * 1000) / total);
  const floors = exact.map(Math.floor);
  let left = 1000 - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    floors[i] = (floors[i] as number) + 1;
    left -= 1;
  }
  return floors.map((f) => f / 10);
}

/** A value from the data (a log field, a blob name), made safe to print: no control reaches the terminal. */
const safe = (text: string | null, none = '-') => (text === null ? none : escapeTerminal(text));
const int = (n: number) => n.toLocaleString('en-US');
const ms = (n: number | null) => (n === null ? '-' : `${n < 100 ? n.toFixed(1) : Math.round(n)} ms`);
const pct = (n: number, total: number) => (total === 0 ? '-' : `${((n * 100) / total).toFixed(1)}%`);

function table(headers: string[], rows: string[][], alignLeft = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < alignLeft ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function classCells(c: ClassCounts & { records: number }): string[] {
  return [
    int(c.records),
    int(c.success),
    int(c.rateLimited),
    pct(c.rateLimited, c.records),
    int(c.clientError),
    int(c.serverError),
  ];
}

export function renderText(r: Report): string {
  const out: string[] = [];
  const c = r.statusClasses;
  const shares = sharesThatAddUp([c.success, c.rateLimited, c.clientError, c.serverError, c.noStatus]);
  out.push(`sluice report: job ${safe(r.job)}`);
  out.push(`source: ${safe(r.source)}`);
  out.push(
    `items: ${int(r.items.total)} (done ${int(r.items.done)}, failed ${int(r.items.failed)}, pending ${int(r.items.pending + r.items.leased)})`,
  );
  out.push(
    `time range: ${safe(r.timeRange.first)} .. ${safe(r.timeRange.last)} (UTC, from the records' own time)`,
  );
  out.push('');
  out.push(`records: ${int(r.records)}   malformed lines: ${int(r.malformedLines)}`);
  out.push(
    table(
      ['outcome', 'records', 'share'],
      [
        ['success (2xx)', int(c.success), `${shares[0]?.toFixed(1)}%`],
        ['rate limited (429)', int(c.rateLimited), `${shares[1]?.toFixed(1)}%`],
        ['client error (other 4xx)', int(c.clientError), `${shares[2]?.toFixed(1)}%`],
        ['server error (5xx)', int(c.serverError), `${shares[3]?.toFixed(1)}%`],
        ['no status', int(c.noStatus), `${shares[4]?.toFixed(1)}%`],
        ['total', int(r.records), r.records > 0 ? '100.0%' : '-'],
      ],
    ),
  );
  out.push(
    `true failures (4xx other than 429, and 5xx): ${int(c.clientError + c.serverError)} (${pct(c.clientError + c.serverError, r.records)})`,
  );
  out.push('');
  const codes = Object.entries(r.statusCodes).sort((a, b) => b[1] - a[1]);
  if (codes.length > 0)
    out.push(`status codes: ${codes.map(([k, v]) => `${safe(k)}: ${int(v)}`).join(', ')}`, '');
  out.push(
    `latency (${int(r.latencyMs.count)} calls with a status and a usable duration): p50 ${ms(r.latencyMs.p50)}, p95 ${ms(r.latencyMs.p95)}, p99 ${ms(r.latencyMs.p99)}, max ${ms(r.latencyMs.max)}`,
  );
  out.push('');
  out.push('by model and version');
  out.push(
    table(
      ['model', 'version', 'records', 'success', '429', '429 %', '4xx', '5xx', 'p50', 'p95', 'p99'],
      r.byModel.map((m) => [
        safe(m.model, '(none)'),
        safe(m.version, '(none)'),
        ...classCells(m),
        ms(m.latencyMs.p50),
        ms(m.latencyMs.p95),
        ms(m.latencyMs.p99),
      ]),
      2,
    ),
  );
  out.push('');
  out.push('by day (UTC)');
  out.push(
    table(
      ['day', 'records', 'success', '429', '429 %', '4xx', '5xx', 'no status'],
      r.byDay.map((d) => [safe(d.day), ...classCells(d), int(d.noStatus)]),
    ),
  );
  if (r.recordsWithoutTime > 0)
    out.push(`(${int(r.recordsWithoutTime)} records have no readable time and are in no day)`);
  const folded = Object.entries(r.foldedRecords).filter(([, n]) => n > 0);
  if (folded.length > 0) {
    out.push('');
    out.push(
      `folded into "(other)": ${folded.map(([dim, n]) => `${int(n)} records by ${dim}`).join(', ')} ` +
        `(more than ${int(MAX_DISTINCT)} distinct values in one parse job; every record is still counted)`,
    );
  }
  if (r.failures.length > 0) {
    out.push('');
    out.push(`failed items (${int(r.items.failed)}; re-run with --retry-failed):`);
    for (const f of r.failures.slice(0, 20))
      out.push(`  ${safe(f.id)}: ${safe(f.error)} (after ${f.attempts} attempts)`);
  }
  return `${out.join('\n')}\n`;
}
