// The analysis as text for a person: health first, then errors, templates, training and API.
// Colour only when asked (a TTY); anything from the data has its control characters escaped.
import { count } from '../cli/format.js';
import type { Analysis } from './combine.js';
import { LEVELS } from './levels.js';
import { clip, escapeControl } from './text.js';

export interface TextOptions {
  color: boolean;
  /** Templates listed. */
  top: number;
}

const safe = (text: string, max = 160) => escapeControl(clip(text.replace(/\n/g, ' ⏎ '), max));

export function renderText(a: Analysis, options: TextOptions): string {
  const paint = (code: string) => (text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const bold = paint('1');
  const dim = paint('2');
  const red = paint('31');
  const yellow = paint('33');
  const green = paint('32');
  const out: string[] = [];
  const lines = a.files.reduce((sum, f) => sum + f.lines, 0);
  out.push(
    `${bold('sluice analyze')}: ${count(a.files.length)} file${a.files.length === 1 ? '' : 's'}, ${count(lines)} lines, ${count(a.events)} events` +
      (a.timeRange.first ? `, ${a.timeRange.first} .. ${a.timeRange.last}` : ''),
  );
  for (const f of a.files.slice(0, 20)) {
    out.push(
      `  ${safe(f.path, 100)}  ${f.format}  ${count(f.lines)} lines  ${count(f.events)} events${f.skipped ? `  skipped: ${f.skipped}` : ''}`,
    );
  }
  if (a.files.length > 20) out.push(dim(`  ... and ${a.files.length - 20} more files`));

  const h = a.health;
  const gradeColour = h.score >= 75 ? green : h.score >= 60 ? yellow : red;
  out.push('', `${bold('Health')}: ${gradeColour(`${h.score}/100 (${h.grade})`)}`);
  for (const p of h.penalties) out.push(`  -${p.points}  ${safe(p.reason, 200)}`);

  out.push(
    '',
    `${bold('Levels')}: ${
      LEVELS.filter((l) => a.levels[l] > 0)
        .map((l) => `${l} ${count(a.levels[l])}`)
        .join('  ') || 'none'
    }${a.eventsWithoutLevel > 0 ? dim(`  (no level: ${count(a.eventsWithoutLevel)})`) : ''}`,
  );

  if (a.errors.byCategory.length > 0) {
    out.push('', `${bold('Errors by category')} (${count(a.errors.total)})`);
    for (const c of a.errors.byCategory) {
      const sev = c.severity === 'critical' || c.severity === 'high' ? red(c.severity) : yellow(c.severity);
      out.push(
        `  ${c.category.padEnd(9)} ${count(c.count).padStart(7)}  ${sev}  ${c.rules.map((r) => `${r.rule} ${r.count}`).join(', ')}`,
      );
      out.push(`    advice: ${c.advice}`);
      for (const e of c.examples) out.push(dim(`    ${safe(e.file, 60)}:${e.line}  ${safe(e.message, 140)}`));
    }
  }

  if (a.templates.length > 0) {
    out.push('', `${bold('Top templates')} (${count(a.templateCount)} in all)`);
    for (const t of a.templates.slice(0, options.top)) {
      out.push(
        `  ${count(t.count).padStart(8)}  ${(t.level ?? '-').padEnd(8)} ${t.id}  ${safe(t.template, 110)}`,
      );
    }
  }

  for (const run of a.training) {
    out.push(
      '',
      `${bold('Training')}: ${safe(run.file, 80)} (${run.framework}), ${run.epochs.length} epochs, best epoch ${run.bestEpoch ?? '-'}`,
    );
    const names = [...new Set(run.epochs.flatMap((e) => Object.keys(e)))].filter((k) => k !== 'epoch');
    const ordered = ['loss', 'val_loss', 'accuracy', 'val_accuracy'].filter((k) => names.includes(k));
    const columns = [...ordered, ...names.filter((k) => !ordered.includes(k))].slice(0, 7);
    out.push(`  ${'epoch'.padStart(5)}  ${columns.map((c) => c.padStart(12)).join(' ')}`);
    for (const e of run.epochs) {
      const mark = e.epoch === run.bestEpoch ? ' *' : '';
      out.push(
        `  ${String(e.epoch).padStart(5)}  ${columns.map((c) => fmt(e[c]).padStart(12)).join(' ')}${mark}`,
      );
    }
    const o = run.overfitting;
    if (o.detected)
      out.push(
        yellow(
          `  overfitting from epoch ${o.fromEpoch}: val_loss rises while loss falls (gap ${o.gap} at the last epoch)`,
        ),
      );
    for (const n of run.nonFinite) out.push(red(`  ${n.metric} is ${n.value} at epoch ${n.epoch}`));
  }

  const api = a.api;
  if (api.requests > 0) {
    const l = api.latencyMs;
    out.push(
      '',
      `${bold('API')}: ${count(api.requests)} requests  ${Object.entries(api.statusClasses)
        .map(([k, v]) => `${k} ${count(v)}`)
        .join('  ')}`,
    );
    if (l.count > 0)
      out.push(
        `  latency ms: mean ${l.mean}  p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max}  (${count(l.count)} timed)`,
      );
    out.push(`  slow (>= ${api.slowRequests.thresholdMs} ms): ${count(api.slowRequests.count)}`);
    for (const s of api.slowRequests.examples)
      out.push(
        dim(`    ${safe(s.file, 60)}:${s.line}  ${safe(s.endpoint, 80)} ${s.status} ${s.durationMs} ms`),
      );
    for (const e of api.byEndpoint.slice(0, 10)) {
      out.push(
        `  ${safe(e.endpoint, 60).padEnd(60)} ${count(e.requests).padStart(8)}  5xx ${count(e.serverErrors)}  p95 ${e.latencyMs.p95 ?? '-'} ms`,
      );
    }
  }

  const sk = a.skipped;
  if (sk.longLines + sk.invalidUtf8Lines + sk.files.length > 0) {
    out.push('', bold('Skipped'));
    if (sk.longLines > 0)
      out.push(`  ${count(sk.longLines)} lines longer than the line cap (--max-line): not analysed`);
    if (sk.invalidUtf8Lines > 0)
      out.push(
        `  ${count(sk.invalidUtf8Lines)} lines with invalid UTF-8: analysed with replacement characters`,
      );
    for (const f of sk.files) out.push(`  ${safe(f.path, 100)}: ${f.reason}`);
  }
  if (h.recommendations.length > 0) {
    out.push('', bold('Recommendations'));
    for (const r of h.recommendations) out.push(`  - ${safe(r, 300)}`);
  }
  return `${out.join('\n')}\n`;
}

function fmt(v: number | string | undefined): string {
  if (v === undefined) return '-';
  if (typeof v === 'string') return v;
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
