// The report of a `sluice run` job: how the items went (counts, durations, exit codes, timeouts,
// retries, memory per child), what the gate decided and why, and every failed item with its exit
// code and the last lines of its stderr. Built from the store alone, so any machine can print it.
import { stringify } from 'csv-stringify/sync';
import { bytes, count } from '../../cli/format.js';
import type { ItemRecord } from '../../store/types.js';
import type { TaskReport } from '../index.js';

export interface Spread {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

export interface ExecFailure {
  id: string;
  attempts: number;
  exitCode: number | null;
  timedOut: boolean;
  /** The last attempt's error: its exit code or timeout and the last lines of its stderr. */
  error: string;
  /** Where its stdout and stderr are. */
  out: string | null;
}

export interface ExecReport {
  job: string;
  task: 'exec';
  items: { total: number; done: number; failed: number; pending: number; leased: number };
  /** Of the items that ran to an end (done or failed), their last attempt. */
  durationMs: Spread;
  peakRssBytes: Spread;
  /** Last attempt's exit code per item: {"0": n, "1": n}; "signal" for those a signal ended. */
  exitCodes: Record<string, number>;
  timeouts: number;
  /** Failed attempts that were tried again, over the job; and items that needed more than one. */
  retries: number;
  retriedItems: number;
  /** Decisions of the child gate and the engine, newest first, with their reasons. */
  decisions: { at: string; message: string }[];
  failures: ExecFailure[];
  runs: number;
}

const PAGE = 1000;
/** Failed items listed in full; the rest are counted. */
const FAILURES_SHOWN = 1000;

export function spread(values: number[]): Spread {
  if (values.length === 0) return { count: 0, p50: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the value below which the share of values lies.
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] as number };
}

function failureOf(item: ItemRecord): ExecFailure {
  const m = item.metrics ?? {};
  const result = item.result;
  const out =
    result && typeof result === 'object' && !Array.isArray(result) && typeof result.out === 'string'
      ? result.out
      : null;
  return {
    id: item.id,
    attempts: item.attempts,
    exitCode: m.exitCode === undefined || m.exitCode < 0 ? null : m.exitCode,
    timedOut: m.timedOut === 1,
    error: item.error ?? '',
    out,
  };
}

export const execReport: TaskReport = {
  async build({ job, status, store }): Promise<ExecReport> {
    const durations: number[] = [];
    const rss: number[] = [];
    const exitCodes: Record<string, number> = {};
    const failures: ExecFailure[] = [];
    let timeouts = 0;
    let retries = 0;
    let retriedItems = 0;
    let after: string | undefined;
    for (;;) {
      const page = await store.listItems(job, { limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const item of page) {
        // Attempts count failed ones: a done item's were all retried, a failed item's all but the last.
        const retried = item.state === 'failed' ? Math.max(0, item.attempts - 1) : item.attempts;
        retries += retried;
        if (retried > 0) retriedItems += 1;
        if (item.state !== 'done' && item.state !== 'failed') continue;
        const m = item.metrics;
        if (m) {
          if (m.durationMs !== undefined) durations.push(m.durationMs);
          if (m.peakRssBytes) rss.push(m.peakRssBytes);
          if (m.timedOut === 1) timeouts += 1;
          const code = m.exitCode === undefined ? undefined : m.exitCode < 0 ? 'signal' : String(m.exitCode);
          if (code !== undefined) exitCodes[code] = (exitCodes[code] ?? 0) + 1;
        }
        if (item.state === 'failed' && failures.length < FAILURES_SHOWN) failures.push(failureOf(item));
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]?.id;
    }
    const i = status.items;
    return {
      job,
      task: 'exec',
      items: { total: i.total, done: i.done, failed: i.failed, pending: i.pending, leased: i.leased },
      durationMs: spread(durations),
      peakRssBytes: spread(rss),
      exitCodes,
      timeouts,
      retries,
      retriedItems,
      decisions: status.events.map((e) => ({ at: new Date(e.at).toISOString(), message: e.message })),
      failures,
      runs: status.runs.length,
    };
  },

  text(report: object): string {
    const r = report as ExecReport;
    const i = r.items;
    const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 0)} s`;
    const lines = [
      `job: ${r.job} (sluice run, ${r.runs} run${r.runs === 1 ? '' : 's'})`,
      `items: ${count(i.total)} total · ${count(i.done)} done · ${count(i.failed)} failed · ${count(i.pending)} pending · ${count(i.leased)} running`,
      `duration per item: p50 ${secs(r.durationMs.p50)} · p95 ${secs(r.durationMs.p95)} · max ${secs(r.durationMs.max)} (${count(r.durationMs.count)} items)`,
      r.peakRssBytes.count > 0
        ? `memory per child (peak RSS of its process group): p50 ${bytes(r.peakRssBytes.p50)} · p95 ${bytes(r.peakRssBytes.p95)} · max ${bytes(r.peakRssBytes.max)}`
        : 'memory per child: not sampled (every command ended within a sample interval)',
      `exit codes: ${
        Object.entries(r.exitCodes)
          .sort((a, b) => b[1] - a[1])
          .map(([code, n]) => `${code}: ${count(n)}`)
          .join(' · ') || '-'
      }`,
      `timeouts: ${count(r.timeouts)} · retries: ${count(r.retries)} (${count(r.retriedItems)} items needed more than one attempt)`,
    ];
    if (r.decisions.length > 0) {
      lines.push('', 'decisions (newest first):');
      for (const d of r.decisions.slice(0, 20)) lines.push(`  ${d.at.slice(11, 19)}  ${d.message}`);
    }
    if (r.failures.length > 0) {
      lines.push('', 'failed items (after a fix, run again with --retry-failed):');
      for (const f of r.failures.slice(0, 50)) {
        lines.push(
          `  ${f.id}  ${f.timedOut ? 'timed out' : `exit ${f.exitCode ?? 'by signal'}`}  after ${f.attempts} attempts`,
        );
        lines.push(`    ${f.error}`);
        if (f.out) lines.push(`    output: ${f.out}`);
      }
      if (i.failed > 50)
        lines.push(`  ... and ${count(i.failed - 50)} more (sluice report --format csv lists them)`);
    }
    return `${lines.join('\n')}\n`;
  },

  /** One row per failed item: what a user re-runs or hands on. */
  csv(report: object): string {
    const r = report as ExecReport;
    return stringify(
      r.failures.map((f) => [f.id, f.attempts, f.exitCode ?? '', f.timedOut ? 1 : 0, f.error, f.out ?? '']),
      { header: true, columns: ['id', 'attempts', 'exit_code', 'timed_out', 'error', 'out'] },
    );
  },
};
