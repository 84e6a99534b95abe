// A query's result as the user asked for it: an aligned text table, a JSON array of row
// objects, or CSV with a header.
import { stringify } from 'csv-stringify/sync';
import type { QueryResult } from './database.js';

export const QUERY_FORMATS = ['text', 'json', 'csv'] as const;
export type QueryFormat = (typeof QUERY_FORMATS)[number];

const NUMERIC = /INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number')
    return Number.isInteger(v) ? v.toLocaleString('en-US') : String(Math.round(v * 1e6) / 1e6);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function renderText(result: QueryResult): string {
  const header = result.columns.map((c) => c.name);
  const body = result.rows.map((r) => r.map(cell).map((s) => s.replace(/\s*\n\s*/g, ' ')));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const right = result.columns.map((c) => NUMERIC.test(c.type));
  const line = (cells: string[]) =>
    cells
      .map((s, i) => (right[i] ? s.padStart(widths[i] ?? 0) : s.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const count = `(${result.rows.length} ${result.rows.length === 1 ? 'row' : 'rows'})`;
  return `${[line(header), rule, ...body.map(line), count].join('\n')}\n`;
}

export function renderResult(result: QueryResult, format: QueryFormat): string {
  if (format === 'json') {
    const objects = result.rows.map((r) =>
      Object.fromEntries(result.columns.map((c, i) => [c.name, r[i] ?? null])),
    );
    return `${JSON.stringify(objects, null, 2)}\n`;
  }
  if (format === 'csv') {
    return stringify(
      result.rows.map((r) => r.map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v))),
      { header: true, columns: result.columns.map((c) => c.name) },
    );
  }
  return renderText(result);
}
