// `sluice status`: where a job stands, from the store (every machine's work), as text or JSON.
import type { Command } from 'commander';
import { DEFAULT_STORE, openStore, STORE_HELP } from '../../store/index.js';
import type { JobStatus } from '../../store/types.js';
import { bytes, count } from '../format.js';
import { chooseJob } from './job.js';

function renderStatus(s: JobStatus): string {
  const i = s.items;
  const pct = i.total > 0 ? ((i.done * 100) / i.total).toFixed(1) : '0.0';
  const lines = [
    `job: ${s.job}`,
    `source: ${s.source}`,
    `listing: ${s.listingComplete ? 'complete' : 'incomplete (the next ingest continues it)'}`,
    `items: ${count(i.total)} total · ${count(i.done)} done (${pct}%) · ${count(i.pending)} pending · ${count(i.leased)} leased · ${count(i.failed)} failed`,
    `bytes: ${bytes(s.bytes.done)} of ${bytes(s.bytes.total)} · records: ${count(s.records)}`,
  ];
  const live = s.workers.filter((w) => !w.left);
  if (s.workers.length > 0 && (live.length > 0 || s.workers.length > 1)) {
    lines.push('', `workers (${live.length} live, ${s.workers.length} in all):`);
    for (const w of s.workers.slice(0, 20)) {
      const seen = new Date(w.lastSeen).toISOString().replace('T', ' ').slice(0, 19);
      const state = w.left
        ? 'left'
        : w.stale
          ? 'STALE (heartbeat stopped: its items return after its lease)'
          : 'live';
      lines.push(
        `  ${w.owner}  ${state}  done ${count(w.done)}  leased ${count(w.leased)}  ${w.rate.toFixed(1)} items/s  last seen ${seen} UTC`,
      );
    }
  }
  if (s.runs.length > 0) {
    lines.push('', 'recent runs:');
    for (const r of s.runs) {
      const when = new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19);
      const took = r.endedAt ? `${((r.endedAt - r.startedAt) / 1000).toFixed(1)}s` : 'running or killed';
      const st = r.stats;
      const http =
        st['http.requests'] !== undefined
          ? `  requests ${count(st['http.requests'] ?? 0)}  request retries ${count(st['http.retries'] ?? 0)}  throttled ${count(st['http.throttled'] ?? 0)}  timeouts ${count(st['http.timeouts'] ?? 0)}`
          : '';
      lines.push(
        `  #${r.id} ${when} UTC  ${r.outcome ?? '-'}  ${took}  items ${count(st.processed ?? 0)}  failed ${count(st.failed ?? 0)}  item retries ${count(st.retries ?? 0)}${http}${st.peakRssBytes ? `  peak RSS ${bytes(st.peakRssBytes)}` : ''}  by ${r.owner}`,
      );
    }
  }
  if (s.events.length > 0) {
    lines.push('', 'latest decisions (newest first):');
    for (const e of s.events.slice(0, 10)) {
      lines.push(`  run #${e.run} ${new Date(e.at).toISOString().slice(11, 19)}  ${e.message}`);
    }
  }
  if (s.failures.length > 0) {
    lines.push('', `failed items (re-run with --retry-failed):`);
    for (const f of s.failures) lines.push(`  ${f.id}\n    ${f.error} (after ${f.attempts} attempts)`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .summary("show a job's progress, failures and recent runs")
    .option('--store <path|url>', STORE_HELP, DEFAULT_STORE)
    .option('--job <name>', 'job to show (default: the latest)')
    .option(
      '--json',
      'print one JSON object: {"job", "items": {"total", "pending", "leased", "done", "failed"}, ...}',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  sluice status\n  sluice status --store /data/sluice.db --job june --json | jq .items',
    )
    .action(async (opts: { store: string; job?: string; json?: boolean }) => {
      const store = await openStore(opts.store, { create: false, readOnly: true });
      try {
        const { job, note } = await chooseJob(store, opts.job, opts.store);
        if (note) process.stderr.write(`${note}\n`);
        const s = await store.status(job);
        process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
      } finally {
        await store.close();
      }
    });
}
