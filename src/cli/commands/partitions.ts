// `sluice partitions <source> --n <n>`: how a job would split over n machines that share nothing
// (--partition i/n): items and bytes per partition, with sample ids, before anything runs.
import type { Command } from 'commander';
import picomatch from 'picomatch';
import { partitionOf } from '../../engine/partition.js';
import { UsageError } from '../../errors.js';
import { openSource } from '../../sources/index.js';
import { bytes, count } from '../format.js';
import { DEFAULT_INCLUDE } from './ingest.js';
import { positiveInt, windowOption } from './options.js';

const SAMPLES = 3;

export interface PartitionRow {
  partition: string;
  items: number;
  bytes: number;
  samples: string[];
}

export async function splitSource(
  location: string,
  opts: { n: number; include: string; from?: string; to?: string; connectionString?: string },
): Promise<PartitionRow[]> {
  const window = windowOption(opts.from, opts.to);
  const matches = picomatch(opts.include, { dot: true });
  const rows: PartitionRow[] = Array.from({ length: opts.n }, (_, i) => ({
    partition: `${i}/${opts.n}`,
    items: 0,
    bytes: 0,
    samples: [],
  }));
  const source = await openSource(
    location,
    opts.connectionString ? { connectionString: opts.connectionString } : {},
  );
  try {
    for await (const ref of source.list(window ? { window } : {})) {
      if (!matches(ref.id)) continue;
      const row = rows[partitionOf(ref.id, opts.n)] as PartitionRow;
      row.items += 1;
      row.bytes += ref.size;
      if (row.samples.length < SAMPLES) row.samples.push(ref.id);
    }
  } finally {
    await source.close();
  }
  return rows;
}

/** A long id's end, which tells items apart (blob paths share their start). */
function shorten(id: string): string {
  return id.length > 48 ? `…${id.slice(-47)}` : id;
}

export function registerPartitions(program: Command): void {
  program
    .command('partitions')
    .summary('show how --partition i/n would split a job over n machines')
    .argument('<source>', 'the source, as for `sluice ingest`')
    .requiredOption('--n <n>', 'number of partitions (machines)', (v) => {
      const n = positiveInt(v);
      if (n > 10_000) throw new UsageError('--n: at most 10,000 partitions');
      return n;
    })
    .option('--include <glob>', 'which files or blobs are items', DEFAULT_INCLUDE)
    .option('--from <date>', 'first hour to include (UTC, YYYY-MM-DD[THH])')
    .option('--to <date>', 'last hour or day to include (UTC, YYYY-MM-DD[THH])')
    .option('--connection-string <cs>', 'Azure Storage connection string')
    .option('--json', 'print a JSON array: [{"partition", "items", "bytes", "samples"}]')
    .addHelpText(
      'after',
      `
Examples:
  sluice partitions ./logs --n 3
  sluice partitions azure://myaccount/insights-logs-requestresponse --n 3 --from 2025-06-01 --json

Then on machine i (0, 1, 2): sluice ingest <source> --partition i/3 --store part-i.db,
and afterwards: sluice merge part-0.db part-1.db part-2.db --into all.db`,
    )
    .action(
      async (
        location: string,
        opts: {
          n: number;
          include: string;
          from?: string;
          to?: string;
          connectionString?: string;
          json?: boolean;
        },
      ) => {
        const rows = await splitSource(location, opts);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        const total = rows.reduce((n, r) => n + r.items, 0);
        const lines = [
          `partition  ${'items'.padStart(10)}  ${'share'.padStart(6)}  ${'bytes'.padStart(10)}  sample ids`,
        ];
        for (const r of rows) {
          const share = total > 0 ? `${((r.items * 100) / total).toFixed(1)}%` : '-';
          lines.push(
            `${r.partition.padEnd(9)}  ${count(r.items).padStart(10)}  ${share.padStart(6)}  ${bytes(r.bytes).padStart(10)}  ${r.samples.map(shorten).join('  ')}`,
          );
        }
        lines.push(`total      ${count(total).padStart(10)}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      },
    );
}
