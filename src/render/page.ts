// One self-contained HTML page (no outside request: styles, charts and the one small script are
// inline; the CSP forbids fetching anything), light or dark with the reader's setting. Shared by
// `analyze --format html` and `report --format html`.
import { escapeControl } from './escape.js';

export interface Section {
  title: string;
  /** Trusted HTML: build it with escapeHtml/table/figures. */
  html: string;
  id?: string;
}

export interface Page {
  title: string;
  subtitle?: string;
  sections: Section[];
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for HTML content and attribute values; control characters become visible. */
export function escapeHtml(text: unknown): string {
  return escapeControl(String(text ?? '')).replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);
}

export type Cell = string | number | null | undefined | { html: string; sort?: string | number };

/** A table; columns sort on a click on their header (numbers as numbers). */
export function table(
  headers: string[],
  rows: Cell[][],
  options: { caption?: string; numeric?: boolean[] } = {},
): string {
  const cell = (c: Cell, i: number) => {
    const numeric = options.numeric?.[i] ?? typeof c === 'number';
    const cls = numeric ? ' class="num"' : '';
    if (c !== null && typeof c === 'object') {
      const sort = c.sort === undefined ? '' : ` data-sort="${escapeHtml(c.sort)}"`;
      return `<td${cls}${sort}>${c.html}</td>`;
    }
    return `<td${cls}>${escapeHtml(c ?? '')}</td>`;
  };
  return [
    '<table class="sortable">',
    options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '',
    `<thead><tr>${headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody>`,
    '</table>',
  ].join('');
}

/** Headline figures; `key` becomes `data-key` so tests and scripts can find each one. */
export function figures(
  items: { label: string; value: string | number; key?: string; tone?: 'good' | 'warn' | 'bad' }[],
): string {
  return `<div class="figures">${items
    .map(
      (f) =>
        `<div class="figure${f.tone ? ` ${f.tone}` : ''}"><div class="value"${f.key ? ` data-key="${escapeHtml(f.key)}"` : ''}>${escapeHtml(f.value)}</div><div class="label">${escapeHtml(f.label)}</div></div>`,
    )
    .join('')}</div>`;
}

/** An inline SVG chart (from render/chart.ts) in a card that stays light in dark mode. */
export function chart(svg: string, label: string): string {
  return `<figure class="chart" role="img" aria-label="${escapeHtml(label)}">${svg}</figure>`;
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f8fafc;--fg:#0f172a;--muted:#64748b;--card:#fff;--line:#e2e8f0;--good:#16a34a;--warn:#d97706;--bad:#dc2626}
@media (prefers-color-scheme:dark){:root{--bg:#0b1120;--fg:#e2e8f0;--muted:#94a3b8;--card:#111827;--line:#1f2937}}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
header,main{max-width:1100px;margin:0 auto;padding:16px 24px}h1{margin:8px 0 0;font-size:22px}.subtitle{color:var(--muted)}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:16px 0}h2{font-size:17px;margin:0 0 12px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}th{cursor:pointer;user-select:none;white-space:nowrap}th[aria-sort]::after{content:" ↕";color:var(--muted)}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px;word-break:break-all}
.figures{display:flex;flex-wrap:wrap;gap:12px}.figure{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:120px}
.figure .value{font-size:22px;font-weight:600}.figure .label{color:var(--muted);font-size:12px}.good .value{color:var(--good)}.warn .value{color:var(--warn)}.bad .value{color:var(--bad)}
figure.chart{margin:8px 0;background:#fff;border-radius:6px;overflow-x:auto;display:inline-block}figure.chart svg{display:block;max-width:100%;height:auto}
.muted{color:var(--muted)}ul{margin:4px 0;padding-left:20px}`;

// Sorts a table by the clicked column: numbers (or data-sort) numerically, text alphabetically.
const SCRIPT = `document.querySelectorAll('table.sortable th').forEach(function(th){var i=th.cellIndex;th.setAttribute('aria-sort','none');th.addEventListener('click',function(){var tb=th.closest('table').tBodies[0];var asc=th.getAttribute('aria-sort')!=='ascending';var v=function(r){var c=r.cells[i];var s=c?(c.getAttribute('data-sort')||c.textContent):'';var n=parseFloat(s.replace(/,/g,''));return isNaN(n)?s:n};Array.from(tb.rows).sort(function(a,b){var x=v(a),y=v(b);var d=typeof x==='number'&&typeof y==='number'?x-y:String(x).localeCompare(String(y));return asc?d:-d}).forEach(function(r){tb.appendChild(r)});th.closest('tr').querySelectorAll('th').forEach(function(h){h.setAttribute('aria-sort','none')});th.setAttribute('aria-sort',asc?'ascending':'descending')})});`;

export function renderPage(page: Page): string {
  const sections = page.sections
    .map(
      (s) =>
        `<section${s.id ? ` id="${escapeHtml(s.id)}"` : ''}><h2>${escapeHtml(s.title)}</h2>${s.html}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(page.title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body><header><h1>${escapeHtml(page.title)}</h1>${page.subtitle ? `<div class="subtitle">${escapeHtml(page.subtitle)}</div>` : ''}</header>
<main>
${sections}
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
