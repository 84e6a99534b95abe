// `sluice merge a.db b.db c.db --into all.db`: one store from the per-machine SQLite stores of one
// partitioned job, whose report and status are the whole job's. Stores that share an item, or
// hold different jobs, are refused.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { parsePartition } from '../../engine/partition.js';
import { UsageError } from '../../errors.js';
import { isPostgresUrl } from '../../store/index.js';
import { SqliteStore } from '../../store/sqlite/index.js';
import { attachInputs, findOverlap, type MergeInput, mergeStores } from '../../store/sqlite/merge.js';
import type { Job } from '../../store/types.js';
import { count } from '../format.js';
import { defaultJobName } from './job.js';

async function jobOf(file: string, requested: string | undefined): Promise<Job> {
  const store = SqliteStore.open(file, { readOnly: true });
  try {
    const jobs = await store.listJobs();
    if (requested !== undefined) {
      const job = jobs.find((j) => j.name === requested);
      if (!job)
        throw new UsageError(
          `${file} has no job "${requested}" (it has: ${jobs.map((j) => j.name).join(', ') || 'none'})`,
        );
      return job;
    }
    if (jobs.length !== 1) {
      throw new UsageError(
        `${file} holds ${jobs.length} jobs (${jobs.map((j) => `"${j.name}"`).join(', ')}): name the one to merge with --job`,
      );
    }
    return jobs[0] as Job;
  } finally {
    await store.close();
  }
}

/** The job's filters without its partition: what must be the same on every machine. */
function withoutPartition(filters: Record<string, unknown>): Record<string, unknown> {
  const { partition: _, ...rest } = filters;
  return rest;
}

export async function mergeCommand(files: string[], opts: { into: string; job?: string }): Promise<string[]> {
  const lines: string[] = [];
  if (files.some(isPostgresUrl) || isPostgresUrl(opts.into)) {
    throw new UsageError(
      'merge combines SQLite stores; a PostgreSQL store already holds every machine’s work',
    );
  }
  const resolved = files.map((f) => path.resolve(f));
  const twice = resolved.find((f, i) => resolved.indexOf(f) !== i);
  if (twice)
    throw new UsageError(`${twice} is named twice: a store merged with itself would count its items twice`);
  if (resolved.includes(path.resolve(opts.into)))
    throw new UsageError('--into must be a new file, not one of the stores merged');
  if (existsSync(opts.into)) throw new UsageError(`${opts.into} exists already: --into takes a new file`);

  const jobs = await Promise.all(files.map((f) => jobOf(f, opts.job)));
  const first = jobs[0] as Job;
  const spec = JSON.stringify(withoutPartition(first.filters));
  jobs.forEach((job, i) => {
    if (
      job.source !== first.source ||
      job.task !== first.task ||
      JSON.stringify(withoutPartition(job.filters)) !== spec
    ) {
      throw new UsageError(
        `${files[i]} holds another job ("${job.name}": ${job.source}, ${JSON.stringify(job.filters)}) than ${files[0]} ` +
          `("${first.name}": ${first.source}, ${JSON.stringify(first.filters)}): merge only the stores of one partitioned job`,
      );
    }
  });
  const parts = jobs.map((j) =>
    typeof j.filters.partition === 'string' ? parsePartition(j.filters.partition) : null,
  );
  const n = parts[0]?.count;
  let partial = false;
  if (parts.every((p) => p !== null && p.count === n)) {
    const seen = new Set(parts.map((p) => p?.index));
    const missing = Array.from({ length: n ?? 0 }, (_, i) => i).filter((i) => !seen.has(i));
    if (missing.length > 0) {
      partial = true;
      lines.push(
        `note: partitions ${missing.map((i) => `${i}/${n}`).join(', ')} are not among these stores: the merged job is partial`,
      );
    }
  }

  const name = jobs.every((j) => j.name === first.name)
    ? first.name
    : defaultJobName(first.source, withoutPartition(first.filters));
  await SqliteStore.open(opts.into).close();
  const db = new Database(opts.into);
  let merged: { items: number };
  try {
    const inputs: MergeInput[] = files.map((f, i) => ({ path: path.resolve(f), job: (jobs[i] as Job).name }));
    attachInputs(db, inputs);
    const overlap = findOverlap(db, inputs);
    if (overlap) {
      throw new UsageError(
        `${overlap.a} and ${overlap.b} share items (e.g. ${JSON.stringify(overlap.id)}): merging them would count those twice. ` +
          'Merge only stores of distinct partitions (--partition i/n) of one job.',
      );
    }
    merged = mergeStores(db, inputs, {
      name,
      source: first.source,
      task: first.task,
      filters: JSON.stringify(withoutPartition(first.filters)),
      createdAt: Math.min(...jobs.map((j) => j.createdAt)),
      partial,
    });
  } catch (error) {
    db.close();
    const { rm } = await import('node:fs/promises');
    await Promise.all(['', '-wal', '-shm'].map((s) => rm(`${opts.into}${s}`, { force: true })));
    throw error;
  }
  db.close();
  lines.push(`merged ${files.length} stores into ${opts.into}: job "${name}", ${count(merged.items)} items`);
  lines.push(`report: sluice report --store ${opts.into}`);
  return lines;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .summary('combine the SQLite stores of one partitioned job into one')
    .description(
      'Combines the per-machine SQLite stores of one job split with --partition i/n into one store whose ' +
        '`report` and `status` are the whole job. Items are copied and aggregates added; stores that share ' +
        'an item, or hold different jobs, are refused (exit 2) and nothing is written.',
    )
    .argument('<stores...>', 'the SQLite stores to combine (one per partition)')
    .requiredOption('--into <file>', 'the new store to write (must not exist)')
    .option('--job <name>', 'the job to merge, when the stores hold several')
    .addHelpText(
      'after',
      `
Examples:
  # machine i of 3 ran: sluice ingest ./logs --partition i/3 --store part-i.db
  sluice merge part-0.db part-1.db part-2.db --into all.db
  sluice report --store all.db`,
    )
    .action(async (stores: string[], opts: { into: string; job?: string }) => {
      for (const line of await mergeCommand(stores, opts)) process.stderr.write(`${line}\n`);
    });
}
