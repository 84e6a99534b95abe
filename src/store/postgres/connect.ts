// Connecting to PostgreSQL: a small pool from the URL (or the standard PG* variables), the
// printable location without its password, and the first connection's failures as usage errors
// the user can act on (server unreachable, authentication refused, database missing).
import os from 'node:os';
import pg from 'pg';
import { UsageError } from '../../errors.js';

/** The database's address as a user would write it, for messages; never the password. */
export interface Address {
  /** The URL with its password removed. */
  location: string;
  host: string;
  port: string;
  user: string;
  database: string;
  /** Text to blank out of any message: the password from the URL or $PGPASSWORD. */
  secrets: string[];
}

export function address(url: string): Address {
  const parsed = new URL(url);
  const env = process.env;
  const secrets = [parsed.password ? decodeURIComponent(parsed.password) : '', env.PGPASSWORD ?? '']
    .filter((s) => s.length > 0)
    .flatMap((s) => [s, encodeURIComponent(s)]);
  parsed.password = '';
  const user = decodeURIComponent(parsed.username) || env.PGUSER || os.userInfo().username;
  return {
    location: parsed.toString(),
    host: parsed.hostname || env.PGHOST || 'localhost',
    port: parsed.port || env.PGPORT || '5432',
    user,
    database: decodeURIComponent(parsed.pathname.slice(1)) || env.PGDATABASE || user,
    secrets,
  };
}

/** Any text with the password blanked out (server and driver messages may quote the URL). */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

/** bigint (counts, fences, run ids) as JS numbers: none of ours comes near 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PoolOptions {
  readOnly?: boolean;
  /** Connections at most. Default 4: a worker makes one store call at a time but for its heartbeat. */
  max?: number;
  /** How long the first connection may take before the server counts as unreachable, ms. Default 5,000. */
  connectTimeoutMs?: number;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'sluice',
    // Our tables live in their own schema, so a shared database's own `jobs` or `items` are safe.
    // A worker frozen (SIGSTOP, a paused VM) in the middle of a transaction would hold its row
    // locks, the job's shared counters among them, and stall every other worker: the server ends
    // such a session after 5 s (sluice's transactions take milliseconds), and a lock waited on for
    // 15 s is given up as a retryable error rather than a hang.
    options:
      '-c search_path=sluice -c idle_in_transaction_session_timeout=5000 -c lock_timeout=15000' +
      (options.readOnly ? ' -c default_transaction_read_only=on' : ''),
    types,
  });
  // An idle connection the server dropped (restart, pg_terminate_backend) is an event, not a crash:
  // the pool discards it and the next call connects afresh.
  pool.on('error', () => {});
  // So is one that drops in the instant between being connected and being handed to its caller
  // (the pool listens only while a client is idle, its caller only once it has it).
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** The first connection's failure, as what the user should do about it. */
export function connectError(error: unknown, at: Address): Error {
  const e = error as { code?: string; message?: string };
  const where = `${at.host}:${at.port}`;
  const reason = redact(e.message || String(error), at.secrets);
  switch (e.code) {
    case '28P01':
    case '28000':
      return new UsageError(
        `authentication failed for user "${at.user}" at PostgreSQL ${where} (${reason}): check the user and its password (in the URL or $PGPASSWORD)`,
      );
    case '3D000':
      return new UsageError(
        `the database "${at.database}" does not exist on PostgreSQL ${where}: create it with \`createdb -h ${at.host} -p ${at.port} -U ${at.user} ${at.database}\` (or CREATE DATABASE "${at.database}"), then run again`,
      );
    default:
      return new UsageError(
        `cannot reach PostgreSQL at ${where}: ${reason}. Check that the server runs and that host and port in --store are right.`,
      );
  }
}
