// Work items from a table (CSV or JSONL): one item per row, keyed by an id column, the row kept as
// the item's payload. The whole file is checked before anything runs; then it is read again lazily.

import type { Listing } from '../../engine/loop.js';
import { UsageError } from '../../errors.js';
import type { Json, NewItem } from '../../store/types.js';

/** One row of a table and the line it starts on (1-based, the header counted). */
export interface Row {
  line: number;
  values: Record<string, Json>;
}

/** Reads a table's rows in file order; throws UsageError naming the line of a malformed one. */
export type ReadRows = (signal?: AbortSignal) => AsyncIterable<Row>;

/** A list of work items: a Listing plus what the CLI checks placeholders against. */
export interface ItemList extends Listing {
  /** Names a placeholder may use besides {id} and {out}: the columns, keys, or `path`. */
  readonly fields: readonly string[];
  /** Items this run lists (after --partition), when known before listing. */
  readonly count: number | undefined;
  /** Items in the whole list, every partition. */
  readonly total: number | undefined;
}

export interface TableOptions {
  /** The column (CSV) or key (JSONL) holding each item's id; default `id`. */
  idColumn?: string;
  /** Keeps only the ids this returns true for (a --partition). */
  include?: (id: string) => boolean;
}

/** Most problems named per kind in one error: enough to find the pattern, not a wall of text. */
const SHOWN = 5;

/** An id as text: strings as they are, numbers as JSON writes them; anything else is not an id. */
export function idOf(value: Json | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Reads the whole table once and checks it: an id column exists, every row has a non-empty id,
 * no id repeats. Everything wrong is reported at once (the first few of each kind), so nothing
 * starts on a list that cannot be run whole.
 */
export async function openTable(
  uri: string,
  readRows: ReadRows,
  options: TableOptions & { columns: () => readonly string[] },
): Promise<ItemList> {
  const idColumn = options.idColumn ?? 'id';
  const include = options.include ?? (() => true);
  const seen = new Map<string, number>();
  const empty: number[] = [];
  const repeated: string[] = [];
  let repeatedCount = 0;
  let total = 0;
  let count = 0;
  const fields = new Set<string>();
  for await (const row of readRows()) {
    total += 1;
    for (const key of Object.keys(row.values)) fields.add(key);
    const id = idOf(row.values[idColumn]);
    if (id === undefined || id.trim() === '') {
      empty.push(row.line);
      continue;
    }
    const first = seen.get(id);
    if (first !== undefined) {
      repeatedCount += 1;
      if (repeated.length < SHOWN) repeated.push(`${JSON.stringify(id)} on lines ${first} and ${row.line}`);
      continue;
    }
    seen.set(id, row.line);
    if (include(id)) count += 1;
  }
  const header = options.columns();
  const known = header.length > 0 ? header : [...fields];
  if (total > 0 && !known.includes(idColumn)) {
    throw new UsageError(
      `${uri} has no ${options.idColumn === undefined ? 'column named "id"' : `column ${JSON.stringify(idColumn)}`}: ` +
        `its columns are ${known.map((c) => JSON.stringify(c)).join(', ') || '(none)'}. ` +
        "Name the one that holds each item's id with --id-column, e.g. --id-column " +
        `${JSON.stringify(known[0] ?? 'WorkItemId')}.`,
    );
  }
  const problems: string[] = [];
  if (empty.length > 0) {
    problems.push(
      `${empty.length} row${empty.length === 1 ? ' has' : 's have'} no id (line${empty.length === 1 ? '' : 's'} ${empty.slice(0, SHOWN).join(', ')}${empty.length > SHOWN ? ', ...' : ''})`,
    );
  }
  if (repeatedCount > 0) {
    problems.push(
      `${repeatedCount} repeated id${repeatedCount === 1 ? '' : 's'}: ${repeated.join('; ')}${repeatedCount > SHOWN ? '; ...' : ''}`,
    );
  }
  if (problems.length > 0) {
    throw new UsageError(
      `${uri}: every row needs its own id in ${JSON.stringify(idColumn)}, and ${problems.join(', and ')}. ` +
        'Fix the file (or pick another column with --id-column); nothing was started.',
    );
  }
  return {
    uri,
    fields: known,
    count,
    total,
    list: (after, signal) => listRows(readRows, idColumn, include, after, signal),
  };
}

/**
 * The rows as items, in file order. A listing interrupted midway resumes after the row whose id it
 * stored last; if that id is gone from the file, every row is listed again (the store keeps what it has).
 */
async function* listRows(
  readRows: ReadRows,
  idColumn: string,
  include: (id: string) => boolean,
  after: string | undefined,
  signal: AbortSignal,
): AsyncIterable<NewItem> {
  let skipping = after !== undefined;
  if (skipping) {
    skipping = false;
    for await (const row of readRows(signal)) {
      if (idOf(row.values[idColumn]) === after) {
        skipping = true;
        break;
      }
    }
  }
  for await (const row of readRows(signal)) {
    const id = idOf(row.values[idColumn]) as string;
    if (skipping) {
      if (id === after) skipping = false;
      continue;
    }
    if (include(id)) yield { id, size: 0, payload: row.values };
  }
}
