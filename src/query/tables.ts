// The tables `query` and `export` offer for a job: its items, runs, events and workers from the
// store, and its report's lists and counts (by_model, by_day, status_codes...) as tables, whatever
// the task: every list of objects in the report is a table, every map of counts a two-column one.
import type { JobStatus, Json, Store } from '../store/types.js';

export type ColumnType = 'VARCHAR' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMP' | 'JSON';

export interface Column {
  name: string;
  type: ColumnType;
}

/** One table: its columns and its rows (values in column order), streamed when large. */
export interface TableSource {
  name: string;
  about: string;
  columns: Column[];
  rows: () => AsyncIterable<unknown[]> | Iterable<unknown[]>;
}

/** `byModel` -> `by_model`, `latencyMs` -> `latency_ms`. */
export function snake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase();
}

/** Nested objects of a row become prefixed columns (`latencyMs.p95` -> `latency_ms_p95`); lists stay JSON. */
export function flatten(value: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}) {
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}_${snake(key)}` : snake(key);
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      flatten(v as Record<string, unknown>, name, out);
    else out[name] = v;
  }
  return out;
}

function typeOf(values: unknown[]): ColumnType {
  let type: ColumnType | null = null;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const t: ColumnType =
      typeof v === 'number'
        ? Number.isInteger(v)
          ? 'BIGINT'
          : 'DOUBLE'
        : typeof v === 'boolean'
          ? 'BOOLEAN'
          : typeof v === 'string'
            ? 'VARCHAR'
            : 'JSON';
    if (type === null) type = t;
    else if (type !== t)
      type =
        (type === 'BIGINT' && t === 'DOUBLE') || (type === 'DOUBLE' && t === 'BIGINT') ? 'DOUBLE' : 'VARCHAR';
  }
  return type ?? 'VARCHAR';
}

/** A table from plain objects, its columns the union of their (flattened) keys in first-seen order. */
export function tableOf(name: string, about: string, objects: Record<string, unknown>[]): TableSource {
  const flat = objects.map((o) => flatten(o));
  const names: string[] = [];
  for (const row of flat) for (const key of Object.keys(row)) if (!names.includes(key)) names.push(key);
  const columns = names.map((n) => ({ name: n, type: typeOf(flat.map((r) => r[n])) }));
  return { name, about, columns, rows: () => flat.map((r) => columns.map((c) => r[c.name] ?? null)) };
}

/** Maps of counts (`statusCodes`) get columns named for what they count. */
const PAIR_COLUMNS: Record<string, [string, string]> = {
  statusCodes: ['code', 'records'],
  statusClasses: ['class', 'records'],
  levels: ['level', 'events'],
  exitCodes: ['exit_code', 'items'],
};

/**
 * The report's tables: each list of objects (`byModel` -> `by_model`), each map of counts
 * (`statusCodes` -> `status_codes(code, records)`), and `report`: one row of its other figures
 * (nested ones flattened: `latency_ms_p95`).
 * Names `taken` by other tables (the store's `items`) stay in `report` only.
 */
export function reportTables(report: object, taken: ReadonlySet<string> = new Set()): TableSource[] {
  const tables: TableSource[] = [];
  const summary: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(report)) {
    if (Array.isArray(value)) {
      if (
        !taken.has(snake(key)) &&
        value.length > 0 &&
        value.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))
      )
        tables.push(tableOf(snake(key), `the report's ${key}`, value as Record<string, unknown>[]));
    } else if (
      !taken.has(snake(key)) &&
      value !== null &&
      typeof value === 'object' &&
      Object.keys(value).length > 0 &&
      Object.values(value).every((v) => Number.isInteger(v)) &&
      // Counts by a value (`{"429": n}`), not figures by name (`{"count", "p50"}`: those go in `report`).
      (key in PAIR_COLUMNS || Object.keys(value).some((k) => /^\d/.test(k)))
    ) {
      const [k, v] = PAIR_COLUMNS[key] ?? ['name', 'value'];
      tables.push(
        tableOf(
          snake(key),
          `the report's ${key}`,
          Object.entries(value).map(([name, n]) => ({ [k]: name, [v]: n })),
        ),
      );
    } else {
      summary[key] = value;
    }
  }
  tables.push(tableOf('report', "the report's figures, one row", [summary]));
  return tables;
}

const ITEM_COLUMNS: Column[] = [
  { name: 'id', type: 'VARCHAR' },
  { name: 'state', type: 'VARCHAR' },
  { name: 'size', type: 'BIGINT' },
  { name: 'version', type: 'VARCHAR' },
  { name: 'attempts', type: 'BIGINT' },
  { name: 'records', type: 'BIGINT' },
  { name: 'bytes', type: 'BIGINT' },
  { name: 'covered', type: 'BIGINT' },
  { name: 'error', type: 'VARCHAR' },
  { name: 'owner', type: 'VARCHAR' },
  { name: 'started_at', type: 'TIMESTAMP' },
  { name: 'finished_at', type: 'TIMESTAMP' },
  { name: 'metrics', type: 'JSON' },
  { name: 'result', type: 'JSON' },
  { name: 'payload', type: 'JSON' },
];

/** Items are read from the store a page at a time: a job of 120,000 blobs is never held whole. */
const PAGE = 5000;

const json = (v: Json | Record<string, number> | null | undefined) =>
  v === null || v === undefined ? null : JSON.stringify(v);

export function storeTables(store: Store, job: string, status: JobStatus): TableSource[] {
  return [
    {
      name: 'items',
      about: 'every item: state, attempts, records, bytes, last error, times (UTC)',
      columns: ITEM_COLUMNS,
      rows: async function* () {
        let after: string | undefined;
        for (;;) {
          const page = await store.listItems(
            job,
            after === undefined ? { limit: PAGE } : { after, limit: PAGE },
          );
          for (const i of page)
            yield [
              i.id,
              i.state,
              i.size,
              i.version,
              i.attempts,
              i.records,
              i.bytes,
              i.covered,
              i.error,
              i.owner,
              i.startedAt,
              i.finishedAt,
              json(i.metrics),
              json(i.result),
              json(i.payload),
            ];
          if (page.length < PAGE) return;
          after = page[page.length - 1]?.id;
        }
      },
    },
    {
      name: 'runs',
      about: 'the recent runs: who, when, outcome, counters (stats as JSON)',
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'owner', type: 'VARCHAR' },
        { name: 'started_at', type: 'TIMESTAMP' },
        { name: 'ended_at', type: 'TIMESTAMP' },
        { name: 'outcome', type: 'VARCHAR' },
        { name: 'stats', type: 'JSON' },
      ],
      rows: () =>
        status.runs.map((r) => [r.id, r.owner, r.startedAt, r.endedAt, r.outcome, JSON.stringify(r.stats)]),
    },
    {
      name: 'events',
      about: 'the latest run events: concurrency decisions with their reasons',
      columns: [
        { name: 'run', type: 'BIGINT' },
        { name: 'at', type: 'TIMESTAMP' },
        { name: 'message', type: 'VARCHAR' },
      ],
      rows: () => status.events.map((e) => [e.run, e.at, e.message]),
    },
    {
      name: 'workers',
      about: 'every worker on the job, from its heartbeats',
      columns: [
        { name: 'owner', type: 'VARCHAR' },
        { name: 'host', type: 'VARCHAR' },
        { name: 'done', type: 'BIGINT' },
        { name: 'leased', type: 'BIGINT' },
        { name: 'records', type: 'BIGINT' },
        { name: 'started_at', type: 'TIMESTAMP' },
        { name: 'last_seen', type: 'TIMESTAMP' },
        { name: 'stale', type: 'BOOLEAN' },
        { name: 'rate', type: 'DOUBLE' },
      ],
      rows: () =>
        (status.workers ?? []).map((w) => [
          w.owner,
          w.host,
          w.done,
          w.leased,
          w.records,
          w.startedAt,
          w.lastSeen,
          w.stale,
          w.rate,
        ]),
    },
  ];
}
