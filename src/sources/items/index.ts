// `--items <file.csv | file.jsonl | folder | azure://...>`: the work items of `sluice run`, checked
// whole before anything starts, then listed lazily into the store as the engine asks.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { isBlobAddress } from '../azure/address.js';
import { csvTable } from './csv.js';
import { openFolderItems } from './folder.js';
import { jsonlRows } from './jsonl.js';
import { type ItemList, openTable } from './rows.js';

export type { ItemList } from './rows.js';

export interface ItemsOptions {
  /** The CSV column or JSONL key that holds each item's id. Default `id`. */
  idColumn?: string;
  /** For folders and containers: the sub-folders this many levels down are the items. */
  depth?: number;
  /** Keeps only these ids (a --partition). */
  include?: (id: string) => boolean;
  /** Azure Storage connection string, as for `ingest`. */
  connectionString?: string;
  verbose?: boolean;
}

/** Opens and checks a list of work items; a missing file or a bad row is a UsageError, before any work. */
export async function openItems(location: string, options: ItemsOptions = {}): Promise<ItemList> {
  if (isBlobAddress(location)) {
    const { openBlobItems } = await import('./azure.js');
    return openBlobItems(location, options);
  }
  const file = path.resolve(location.replace(/^file:/, ''));
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      `--items ${location}: ${error.code === 'ENOENT' ? 'no such file or folder' : `cannot be read (${error.code ?? error.message})`}. ` +
        'Give a CSV file (with a header), a JSONL file, a folder, or azure://<account>/<container>[/<prefix>].',
    );
  });
  if (info.isDirectory()) return openFolderItems(file, options);
  if (options.depth !== undefined) {
    throw new UsageError(`--depth applies to a folder or a container, and ${location} is a file`);
  }
  const table = {
    ...(options.idColumn ? { idColumn: options.idColumn } : {}),
    ...(options.include ? { include: options.include } : {}),
  };
  if (/\.(jsonl|ndjson)$/i.test(file)) {
    return openTable(`jsonl:${file}`, jsonlRows(file), { ...table, columns: () => [] });
  }
  if (/\.(csv|txt)$/i.test(file) || !/\.[a-z0-9]+$/i.test(file)) {
    const csv = csvTable(file);
    return openTable(`csv:${file}`, csv.read, { ...table, columns: csv.columns });
  }
  throw new UsageError(
    `--items ${location}: cannot tell what this file holds from its name; name it .csv (a header row, one item per row) or .jsonl (one JSON object per line)`,
  );
}
