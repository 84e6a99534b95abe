// Work items from a local folder: every file under it (`{path}` is the file), or with a depth, every
// sub-folder that deep (`{path}` is the folder), in the one listing order of ../order.ts.
import { readdir } from 'node:fs/promises';
import { FileSource } from '../file/index.js';
import { compareNames, nameBeforeCursor } from '../order.js';
import type { ItemList } from './rows.js';

export interface FolderOptions {
  /** Sub-folders this many levels down are the items, not files. */
  depth?: number;
  include?: (id: string) => boolean;
}

export async function openFolderItems(location: string, options: FolderOptions = {}): Promise<ItemList> {
  const files = await FileSource.open(location);
  const include = options.include ?? (() => true);
  const depth = options.depth;
  return {
    uri: depth === undefined ? files.uri : `${files.uri} (folders at depth ${depth})`,
    fields: ['path'],
    count: undefined,
    total: undefined,
    async *list(after, signal) {
      if (depth === undefined) {
        for await (const ref of files.list({ ...(after === undefined ? {} : { after }), signal })) {
          if (!include(ref.id)) continue;
          yield { ...ref, payload: { path: files.localPath(ref.id) } };
        }
        return;
      }
      for await (const id of foldersAt(files.localPath(''), '', depth)) {
        if (signal.aborted) return;
        if (nameBeforeCursor(id, after) || !include(id)) continue;
        yield { id, size: 0, payload: { path: files.localPath(id) } };
      }
    },
  };
}

/** The folders `depth` levels below `root` (ids relative, '/'-joined), in name order. */
async function* foldersAt(root: string, relative: string, depth: number): AsyncGenerator<string> {
  const entries = await readdir(relative === '' ? root : `${root}/${relative}`, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => compareNames(`${a}/`, `${b}/`));
  for (const name of names) {
    const id = relative === '' ? name : `${relative}/${name}`;
    if (depth <= 1) yield id;
    else yield* foldersAt(root, id, depth - 1);
  }
}
