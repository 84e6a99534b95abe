// `sluice serve`: a live page of every job in a store and every worker on it, and Prometheus
// /metrics. It only reads the store, so it can watch a PostgreSQL store while workers run elsewhere.
import { type Command, InvalidArgumentError } from 'commander';
import { MONITOR_DEFAULTS, Monitor } from '../../serve/monitor.js';
import { SERVE_DEFAULTS, startServer } from '../../serve/server.js';
import { DEFAULT_STORE, openStore, STORE_HELP } from '../../store/index.js';
import { positiveInt, wholeNumber } from './options.js';

interface ServeCliOptions {
  store: string;
  host: string;
  port: number;
  token?: string;
  poll: number;
  maxJobs: number;
}

function port(value: string): number {
  const n = wholeNumber(value);
  if (n > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .summary('a live page of every job and worker (Server-Sent Events) and Prometheus /metrics')
    .option('--store <path>', STORE_HELP, DEFAULT_STORE)
    .option(
      '--host <address>',
      'address to listen on; another than loopback needs --token',
      SERVE_DEFAULTS.host,
    )
    .option('--port <n>', 'port to listen on (0: any free one)', port, SERVE_DEFAULTS.port)
    .option(
      '--token <secret>',
      'required off loopback: open the page once with ?token=<secret>; /metrics takes Authorization: Bearer <secret> (default: $SLUICE_TOKEN)',
    )
    .option(
      '--poll <ms>',
      'how often the store is read, milliseconds (at least 100)',
      positiveInt,
      MONITOR_DEFAULTS.pollMs,
    )
    .option(
      '--max-jobs <n>',
      'jobs shown and measured: the most recently run ones',
      positiveInt,
      MONITOR_DEFAULTS.maxJobs,
    )
    .addHelpText(
      'after',
      `
Pages: / (the live page), /events (its event stream), /metrics (Prometheus), /snapshot.json.

Metrics: sluice_job_items{job,state}, sluice_job_records_total{job}, sluice_job_bytes{job,kind},
sluice_requests_total{job,outcome}, sluice_job_last_success_timestamp_seconds{job},
sluice_job_workers{job,state}, sluice_job_rate_items_per_second{job}, sluice_job_concurrency_limit{job},
sluice_job_concurrency_decisions{job,direction}, sluice_job_degradation_total{job,kind}.
Request and degradation counts are written when a run ends, summed over the job's recent runs.

Examples:
  sluice serve                                   http://127.0.0.1:8642/
  sluice serve --store postgres://sluice@db/jobs --port 0
  SLUICE_TOKEN=s3cret sluice serve --host 0.0.0.0 --port 9100
  curl -H "Authorization: Bearer s3cret" http://myhost:9100/metrics`,
    )
    .action(async (opts: ServeCliOptions) => {
      const store = await openStore(opts.store, { create: false, readOnly: true });
      const monitor = new Monitor(store, { pollMs: opts.poll, maxJobs: opts.maxJobs });
      let server: Awaited<ReturnType<typeof startServer>> | undefined;
      try {
        await monitor.start();
        server = await startServer({
          monitor,
          host: opts.host,
          port: opts.port,
          token: opts.token ?? process.env.SLUICE_TOKEN,
        });
      } catch (error) {
        monitor.stop();
        await store.close();
        throw error;
      }
      process.stdout.write(
        `sluice serve: ${server.url} (metrics at ${server.url}metrics${opts.token || process.env.SLUICE_TOKEN ? '; open the page once with ?token=<your token>' : ''}); Ctrl-C stops\n`,
      );
      const running = server;
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      monitor.stop();
      await running.close();
      await store.close();
    });
}
