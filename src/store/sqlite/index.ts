// SqliteStore: the default store, one file (WAL), safe for several processes on one machine.
// Readers open it read-only and write nothing; a file that is not a sluice store is refused
// untouched; an older store is migrated, a newer one refused. A failing call becomes a StoreError.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { UsageError } from '../../errors.js';
import {
  type CommitUnit,
  type ItemFailure,
  type ItemState,
  type JobSpec,
  type NewItem,
  type Store,
  StoreError,
} from '../types.js';
import { addItems } from './addItems.js';
import { commitResults } from './commitResults.js';
import { failItems } from './failItems.js';
import {
  addRunEvent,
  claimListing,
  endRun,
  leaveJob,
  listJobs,
  markListed,
  openJob,
  startRun,
} from './jobs.js';
import { leaseItems } from './leaseItems.js';
import { heartbeat, reclaimDead, releaseItems } from './leases.js';
import { migrate, SCHEMA_VERSION, schemaVersion } from './schema.js';
import { aggregates, listItems, progress, recount, retryFailed, status, workLeft } from './status.js';

export interface SqliteStoreOptions {
  /** false: the file must exist (readers). Default true. */
  create?: boolean;
  /** Open for reading only: nothing written, no WAL switch, no migration but an older store's. */
  readOnly?: boolean;
  /** The lease clock (ms since the epoch); one machine shares this one. Default Date.now. */
  clock?: () => number;
}

/** SQLite result codes that may pass if tried again; the rest need a person. */
const RETRYABLE = /^SQLITE_(BUSY|LOCKED)/;

/** What a person does about a store error, by SQLite result code. */
function advice(code: string, path: string): string {
  if (code.startsWith('SQLITE_FULL')) return `the disk holding ${path} is full: free space there`;
  if (code.startsWith('SQLITE_READONLY'))
    return `${path} cannot be written: check its and its folder's permissions`;
  if (code === 'SQLITE_NOTADB')
    return `${path} is not a SQLite database (so not a sluice store): it was left untouched`;
  if (code.startsWith('SQLITE_CORRUPT'))
    return `${path} is damaged: restore it from a copy, or start over with another --store`;
  if (code.startsWith('SQLITE_IOERR_WRITE') || code.startsWith('SQLITE_IOERR_FSYNC'))
    return `writing ${path} failed: check that the disk has room and that the file (and its -wal) can be written`;
  if (code.startsWith('SQLITE_IOERR')) return `reading or writing ${path} failed: check the disk`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return `${path} stayed locked by another process`;
  return `check ${path}`;
}

/** How long an open keeps trying while another process holds the new store's lock. */
const OPEN_BUSY_MS = 10_000;

/** Blocks this thread for `ms` (an open is synchronous, and rare). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class SqliteStore implements Store {
  private constructor(
    private readonly db: Database.Database,
    readonly location: string,
    private readonly clock: () => number,
  ) {}

  /** Opens (creating if asked) the store file; an unusable path is a usage error that says why. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const clock = options.clock ?? Date.now;
    const mustExist = options.create === false || options.readOnly === true;
    if (mustExist && !existsSync(path)) {
      throw new UsageError(
        `no store at ${path}: run \`sluice ingest\` (or \`sluice run\`) first, or pass --store <path>`,
      );
    }
    const deadline = Date.now() + OPEN_BUSY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return SqliteStore.openOnce(path, options, clock, mustExist);
      } catch (error) {
        // Two processes opening a new store at once: SQLite refuses one of them at once, without
        // waiting out the busy timeout, where waiting could deadlock (setting the journal mode or
        // taking the write lock while the other holds its read): open again a moment later.
        const code = (error as { code?: string }).code ?? '';
        if (!code.startsWith('SQLITE_BUSY') || Date.now() >= deadline)
          throw SqliteStore.openError(error, path, options);
        sleepSync(Math.min(200, 10 * attempt) + Math.random() * 10);
      }
    }
  }

  private static openError(error: unknown, path: string, options: SqliteStoreOptions): Error {
    if (error instanceof UsageError) return error;
    const { code = '', message } = error as { code?: string; message: string };
    if (code.startsWith('SQLITE_READONLY') && !options.readOnly) {
      return new UsageError(
        `cannot write the store ${path} (${message}): check its permissions, or pass another --store.`,
      );
    }
    return new UsageError(`cannot open the store ${path}: ${message}. ${advice(code, path)}.`);
  }

  /** One try at opening: SQLite's own errors pass through (open maps them). */
  private static openOnce(
    path: string,
    options: SqliteStoreOptions,
    clock: () => number,
    mustExist: boolean,
  ): SqliteStore {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { fileMustExist: mustExist, readonly: options.readOnly === true });
      db.pragma('busy_timeout = 10000');
      const version = schemaVersion(db);
      if (version === null || (version === 0 && mustExist)) {
        throw new UsageError(
          `${path} is not a sluice store (it has no sluice tables); it was left untouched. Pass the right file with --store.`,
        );
      }
      if (version > SCHEMA_VERSION) {
        throw new UsageError(
          `${path} was written by a newer sluice (store schema ${version}; this sluice knows up to ${SCHEMA_VERSION}): ` +
            'upgrade sluice to read it. It was left untouched.',
        );
      }
      if (version < SCHEMA_VERSION && options.readOnly) {
        // A reader of an older store: migrate it once through a writable connection, then read.
        db.close();
        SqliteStore.open(path, { create: false, clock }).db.close();
        return SqliteStore.open(path, options);
      }
      if (!options.readOnly) {
        db.pragma('journal_mode = WAL');
        // NORMAL in WAL mode: a crash of the process never loses a commit; a power cut may roll back
        // the last ones, and since state and results commit together, those items simply run again.
        db.pragma('synchronous = NORMAL');
        if (version < SCHEMA_VERSION) migrate(db);
      }
      // Aggregates and item rows are hot: a 16 MB page cache keeps them in memory between commits.
      db.pragma('cache_size = -16384');
    } catch (error) {
      db?.close();
      throw error;
    }
    return new SqliteStore(db, path, clock);
  }

  /** Runs a verb, turning a SQLite failure into a StoreError (retryable or not) that says what to do. */
  private call<T>(what: string, verb: () => T): Promise<T> {
    try {
      return Promise.resolve(verb());
    } catch (error) {
      if (error instanceof UsageError || error instanceof StoreError) return Promise.reject(error);
      const { code = '', message } = error as { code?: string; message: string };
      return Promise.reject(
        new StoreError(
          `${what}: ${message} (${code || 'no code'}): ${advice(code, this.location)}`,
          RETRYABLE.test(code),
          {
            cause: error,
          },
        ),
      );
    }
  }

  openJob(spec: JobSpec) {
    return this.call('opening the job', () => openJob(this.db, spec, this.clock()));
  }
  listJobs() {
    return this.call('listing jobs', () => listJobs(this.db));
  }
  addItems(job: string, items: NewItem[], cursor?: string) {
    return this.call('adding items', () => addItems(this.db, job, items, cursor));
  }
  claimListing(job: string, owner: string, ttlMs: number) {
    return this.call('claiming the listing', () => claimListing(this.db, job, owner, ttlMs, this.clock()));
  }
  markListed(job: string, _owner: string) {
    return this.call('marking the listing complete', () => markListed(this.db, job, this.clock()));
  }
  leaseItems(job: string, owner: string, limit: number, ttlMs: number) {
    return this.call('claiming items', () => leaseItems(this.db, job, owner, limit, ttlMs, this.clock()));
  }
  heartbeat(job: string, owner: string, items: { id: string; fence: number }[], ttlMs: number) {
    return this.call('renewing leases', () => heartbeat(this.db, job, owner, items, ttlMs, this.clock()));
  }
  commitResults(job: string, owner: string, units: CommitUnit[]) {
    return this.call('committing results', () => commitResults(this.db, job, owner, units));
  }
  failItems(job: string, owner: string, failures: ItemFailure[], maxAttempts: number) {
    return this.call('recording failed attempts', () =>
      failItems(this.db, job, owner, failures, maxAttempts, this.clock()),
    );
  }
  releaseItems(job: string, owner: string, items: { id: string; fence: number }[]) {
    return this.call('giving items back', () => releaseItems(this.db, job, owner, items));
  }
  reclaimDead(job: string, isDead: (owner: string) => boolean) {
    return this.call('taking back the items of dead workers', () =>
      reclaimDead(this.db, job, isDead, this.clock()),
    );
  }
  retryFailed(job: string) {
    return this.call('resetting failed items', () => retryFailed(this.db, job));
  }
  recount(job: string) {
    return this.call('starting the count over', () => recount(this.db, job));
  }
  workLeft(job: string) {
    return this.call('checking what is left', () => workLeft(this.db, job, this.clock()));
  }
  status(job: string) {
    return this.call('reading the job status', () => status(this.db, job, this.clock()));
  }
  progress(job: string) {
    return this.call('reading progress', () => progress(this.db, job, this.clock()));
  }
  aggregates(job: string) {
    return this.call('reading the aggregates', () => aggregates(this.db, job));
  }
  listItems(job: string, options: { state?: ItemState; after?: string; limit: number }) {
    return this.call('listing items', () => listItems(this.db, job, options));
  }
  leaveJob(job: string, owner: string) {
    return this.call('leaving the job', () => leaveJob(this.db, job, owner, this.clock()));
  }
  startRun(job: string, owner: string, now: number) {
    return this.call('starting a run', () => startRun(this.db, job, owner, now));
  }
  endRun(runId: number, outcome: string, stats: Record<string, number>, now: number) {
    return this.call('ending a run', () => endRun(this.db, runId, outcome, stats, now));
  }
  addRunEvent(runId: number, at: number, message: string) {
    return this.call('recording a run event', () => addRunEvent(this.db, runId, at, message));
  }
  async close() {
    this.db.close();
  }
}
