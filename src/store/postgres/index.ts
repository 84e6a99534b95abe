// PostgresStore: the shared store for a job worked on by many machines. Each verb is one file of
// SQL beside this one; this class only connects, migrates, and turns failures into StoreErrors.
// Leases run on the database's clock, so workers' clocks never have to agree.
import type pg from 'pg';
import type { Delta } from '../../aggregate/delta.js';
import { UsageError } from '../../errors.js';
import type {
  AddItemsResult,
  CommitUnit,
  ItemFailure,
  ItemRecord,
  ItemState,
  Job,
  JobProgress,
  JobSpec,
  JobStatus,
  LeasedItem,
  NewItem,
  Store,
  WorkLeft,
} from '../types.js';
import { addItems, analyzeItems } from './addItems.js';
import { aggregates } from './aggregates.js';
import { claimListing } from './claimListing.js';
import { commitResults } from './commitResults.js';
import { type Address, address, connectError, createPool } from './connect.js';
import { storeError } from './errors.js';
import { failItems } from './failItems.js';
import { heartbeat } from './heartbeat.js';
import { leaseItems } from './leaseItems.js';
import { leaveJob } from './leaveJob.js';
import { listItems } from './listItems.js';
import { listJobs } from './listJobs.js';
import { markListed } from './markListed.js';
import { migrate } from './migrations.js';
import { openJob } from './openJob.js';
import { reclaimDead } from './reclaimDead.js';
import { recount } from './recount.js';
import { releaseItems } from './releaseItems.js';
import { retryFailed } from './retryFailed.js';
import { addRunEvent, endRun, startRun } from './runs.js';
import { withClient } from './sql.js';
import { progress, status } from './status.js';
import { workLeft } from './workLeft.js';

export interface PostgresOpenOptions {
  /** false: the store must exist already (readers). Default true. */
  create?: boolean;
  /** Nothing is written, created or migrated; the connections refuse writes. */
  readOnly?: boolean;
  /** Pooled connections at most. Default 4. */
  maxConnections?: number;
  /** How long connecting may take before the server counts as unreachable, ms. Default 5,000. */
  connectTimeoutMs?: number;
}

/** Items this process adds between two refreshes of the planner's statistics (and at each listing's end). */
const ANALYZE_EVERY = 10_000;

export class PostgresStore implements Store {
  readonly location: string;
  private addedSinceAnalyze = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly at: Address,
  ) {
    this.location = at.location;
  }

  /** Connects, and creates or upgrades the schema unless read-only; connection problems are usage errors. */
  static async open(url: string, options: PostgresOpenOptions = {}): Promise<PostgresStore> {
    let at: Address;
    try {
      at = address(url);
    } catch {
      throw new UsageError(
        'the --store URL is not valid: write it as postgres://user@host:port/database (the password from $PGPASSWORD)',
      );
    }
    const readOnly = options.readOnly === true;
    const pool = createPool(url, {
      readOnly,
      ...(options.maxConnections !== undefined ? { max: options.maxConnections } : {}),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    });
    try {
      await withClient(pool, async () => {});
    } catch (error) {
      await pool.end().catch(() => {});
      throw connectError(error, at);
    }
    try {
      await withClient(pool, (client) =>
        migrate(client, at.location, { create: options.create !== false, readOnly }),
      );
    } catch (error) {
      await pool.end().catch(() => {});
      if ((error as { code?: string }).code === '42501') {
        throw new UsageError(
          `the user "${at.user}" may not create sluice's tables in the database "${at.database}" at ${at.host}:${at.port}: ` +
            `grant it once with GRANT CREATE ON DATABASE "${at.database}" TO "${at.user}", or run sluice once as the database's owner`,
        );
      }
      throw storeError('preparing the store', error, at.secrets);
    }
    return new PostgresStore(pool, at);
  }

  /** Runs a verb; any failure comes out as a StoreError (retryable or not) or the usage error it was. */
  private async call<T>(what: string, verb: () => Promise<T>): Promise<T> {
    try {
      return await verb();
    } catch (error) {
      throw storeError(what, error, this.at.secrets);
    }
  }

  openJob(spec: JobSpec): Promise<Job> {
    return this.call('opening the job', () => openJob(this.pool, spec));
  }
  listJobs(): Promise<Job[]> {
    return this.call('listing jobs', () => listJobs(this.pool));
  }
  async addItems(job: string, items: NewItem[], cursor?: string): Promise<AddItemsResult> {
    const result = await this.call('recording listed items', () => addItems(this.pool, job, items, cursor));
    this.addedSinceAnalyze += result.added;
    if (this.addedSinceAnalyze >= ANALYZE_EVERY) await this.analyze();
    return result;
  }
  /** Best effort: a store user who may not ANALYZE still works, only with poorer plans until autovacuum. */
  private async analyze(): Promise<void> {
    this.addedSinceAnalyze = 0;
    await analyzeItems(this.pool).catch(() => {});
  }
  claimListing(job: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.call('claiming the listing', () => claimListing(this.pool, job, owner, ttlMs));
  }
  async markListed(job: string, owner: string): Promise<void> {
    await this.call('marking the listing complete', () => markListed(this.pool, job, owner));
    if (this.addedSinceAnalyze > 0) await this.analyze();
  }
  leaseItems(job: string, owner: string, limit: number, ttlMs: number): Promise<LeasedItem[]> {
    return this.call('claiming items', () => leaseItems(this.pool, job, owner, limit, ttlMs));
  }
  heartbeat(
    job: string,
    owner: string,
    items: { id: string; fence: number }[],
    ttlMs: number,
  ): Promise<{ lost: string[] }> {
    return this.call('renewing leases', () => heartbeat(this.pool, job, owner, items, ttlMs));
  }
  commitResults(
    job: string,
    owner: string,
    units: CommitUnit[],
  ): Promise<{ committed: number; rejected: string[] }> {
    return this.call('committing results', () => commitResults(this.pool, job, owner, units));
  }
  failItems(
    job: string,
    owner: string,
    failures: ItemFailure[],
    maxAttempts: number,
  ): Promise<Map<string, 'retry' | 'failed'>> {
    return this.call('recording failed attempts', () =>
      failItems(this.pool, job, owner, failures, maxAttempts),
    );
  }
  releaseItems(job: string, owner: string, items: { id: string; fence: number }[]): Promise<void> {
    return this.call('giving items back', () => releaseItems(this.pool, job, owner, items));
  }
  reclaimDead(job: string, isDead: (owner: string) => boolean): Promise<number> {
    return this.call('taking back the items of dead workers', () => reclaimDead(this.pool, job, isDead));
  }
  retryFailed(job: string): Promise<number> {
    return this.call('retrying failed items', () => retryFailed(this.pool, job));
  }
  recount(job: string): Promise<number> {
    return this.call('starting the count over', () => recount(this.pool, job));
  }
  workLeft(job: string): Promise<WorkLeft> {
    return this.call('checking what is left', () => workLeft(this.pool, job));
  }
  status(job: string): Promise<JobStatus> {
    return this.call('reading the job status', () => status(this.pool, job));
  }

  progress(job: string): Promise<JobProgress> {
    return this.call('reading progress', () => progress(this.pool, job));
  }
  aggregates(job: string): Promise<Delta> {
    return this.call('reading the totals', () => aggregates(this.pool, job));
  }
  listItems(
    job: string,
    options: { state?: ItemState; after?: string; limit: number },
  ): Promise<ItemRecord[]> {
    return this.call('listing items', () => listItems(this.pool, job, options));
  }
  leaveJob(job: string, owner: string): Promise<void> {
    return this.call('leaving the job', () => leaveJob(this.pool, job, owner));
  }
  startRun(job: string, owner: string, now: number): Promise<number> {
    return this.call('starting the run', () => startRun(this.pool, job, owner, now));
  }
  endRun(runId: number, outcome: string, stats: Record<string, number>, now: number): Promise<void> {
    return this.call('ending the run', () => endRun(this.pool, runId, outcome, stats, now));
  }
  addRunEvent(runId: number, at: number, message: string): Promise<void> {
    return this.call('recording a run event', () => addRunEvent(this.pool, runId, at, message));
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}
