// SqliteStore: the default store, one file (WAL), safe for several processes on one machine.
import Database from 'better-sqlite3';
import { UsageError } from '../../errors.js';
import type { ItemRef } from '../../sources/types.js';
import type { CommitUnit, JobSpec, Store } from '../types.js';
import { addItems } from './addItems.js';
import { commitResults } from './commitResults.js';
import { failItem } from './failItem.js';
import { addRunEvent, endRun, listJobs, markListed, openJob, startRun } from './jobs.js';
import { leaseItems } from './leaseItems.js';
import { reclaimLeases, releaseItems, renewLeases } from './leases.js';
import { SCHEMA, SCHEMA_VERSION } from './schema.js';
import { aggregates, hasWork, retryFailed, status } from './status.js';

export class SqliteStore implements Store {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  /** Opens (creating if needed) the store file; an unusable path is a usage error. */
  static open(path: string, options: { create?: boolean } = {}): SqliteStore {
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: options.create === false });
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a crash of the process never loses a commit; a power cut may roll back
      // the last ones, and since state and results commit together, those items simply run again.
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 10000');
      // Aggregates and item rows are hot: a 16 MB page cache keeps them in memory between commits.
      db.pragma('cache_size = -16384');
      db.exec(SCHEMA);
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(
        'schema_version',
        String(SCHEMA_VERSION),
      );
    } catch (error) {
      const reason = (error as { code?: string; message: string }).message;
      if (options.create === false) {
        throw new UsageError(
          `no store at ${path} (${reason}): run \`sluice ingest\` first, or pass --store <path>`,
        );
      }
      throw new UsageError(`cannot open the store ${path}: ${reason}. Pass a writable path with --store.`);
    }
    return new SqliteStore(db, path);
  }

  async openJob(spec: JobSpec, now: number) {
    return openJob(this.db, spec, now);
  }
  async listJobs() {
    return listJobs(this.db);
  }
  async addItems(job: string, items: ItemRef[], cursor?: string) {
    return addItems(this.db, job, items, cursor);
  }
  async markListed(job: string, now: number) {
    markListed(this.db, job, now);
  }
  async leaseItems(job: string, owner: string, limit: number, ttlMs: number, now: number) {
    return leaseItems(this.db, job, owner, limit, ttlMs, now);
  }
  async renewLeases(job: string, owner: string, ids: string[], ttlMs: number, now: number) {
    renewLeases(this.db, job, owner, ids, ttlMs, now);
  }
  async commitResults(job: string, owner: string, units: CommitUnit[]) {
    return commitResults(this.db, job, owner, units);
  }
  async failItem(
    job: string,
    owner: string,
    item: { id: string; fence: number },
    error: string,
    retry: { notBefore: number; maxAttempts: number },
  ) {
    return failItem(this.db, job, owner, item, error, retry);
  }
  async releaseItems(job: string, owner: string, ids: string[]) {
    releaseItems(this.db, job, owner, ids);
  }
  async reclaimLeases(job: string, now: number, isDead: (owner: string) => boolean) {
    return reclaimLeases(this.db, job, now, isDead);
  }
  async retryFailed(job: string) {
    return retryFailed(this.db, job);
  }
  async hasWork(job: string, now: number) {
    return hasWork(this.db, job, now);
  }
  async status(job: string) {
    return status(this.db, job);
  }
  async aggregates(job: string) {
    return aggregates(this.db, job);
  }
  async startRun(job: string, owner: string, now: number) {
    return startRun(this.db, job, owner, now);
  }
  async endRun(runId: number, outcome: string, stats: Record<string, number>, now: number) {
    endRun(this.db, runId, outcome, stats, now);
  }
  async addRunEvent(runId: number, at: number, message: string) {
    addRunEvent(this.db, runId, at, message);
  }
  async close() {
    this.db.close();
  }
}
