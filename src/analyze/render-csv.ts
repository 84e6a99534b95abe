// The analysis as CSV: per-epoch training metrics (one row per file and epoch) when the input has
// training runs, else the templates.
import { stringify } from 'csv-stringify/sync';
import type { Analysis } from './combine.js';

export function renderCsv(a: Analysis): string {
  if (a.training.length > 0) {
    const metrics = [...new Set(a.training.flatMap((r) => r.epochs.flatMap((e) => Object.keys(e))))].filter(
      (k) => k !== 'epoch',
    );
    const rows = a.training.flatMap((r) =>
      r.epochs.map((e) => [
        r.file,
        r.framework,
        e.epoch,
        ...metrics.map((m) => e[m] ?? ''),
        e.epoch === r.bestEpoch ? 'true' : 'false',
      ]),
    );
    return stringify([['file', 'framework', 'epoch', ...metrics, 'best'], ...rows]);
  }
  return stringify([
    ['template_id', 'template', 'count', 'level', 'first_seen', 'last_seen'],
    ...a.templates.map((t) => [
      t.id,
      t.template,
      t.count,
      t.level ?? '',
      t.firstSeen ?? '',
      t.lastSeen ?? '',
    ]),
  ]);
}
