// Work items from an Azure container: every blob under the prefix (`{path}` is its name), or with a
// depth, every "folder" (hierarchy prefix) that many levels down, listed by delimiter, never walking
// every blob name to find them.

import { containerClientFor } from '../azure/client.js';
import { openAzureSource } from '../azure/index.js';
import { listedPages } from '../azure/list.js';
import { configureAzureLogging } from '../azure/logging.js';
import { DEFAULT_RETRY } from '../azure/retry.js';
import { nameBeforeCursor } from '../order.js';
import type { ItemsOptions } from './index.js';
import type { ItemList } from './rows.js';

export async function openBlobItems(location: string, options: ItemsOptions): Promise<ItemList> {
  configureAzureLogging(Boolean(options.verbose));
  const source = await openAzureSource(
    location,
    options.connectionString ? { connectionString: options.connectionString } : {},
  );
  const include = options.include ?? (() => true);
  const depth = options.depth;
  return {
    uri: depth === undefined ? source.uri : `${source.uri} (folders at depth ${depth})`,
    fields: ['path'],
    count: undefined,
    total: undefined,
    async *list(after, signal) {
      if (depth === undefined) {
        for await (const ref of source.list({ ...(after === undefined ? {} : { after }), signal })) {
          if (include(ref.id)) yield { ...ref, payload: { path: ref.id } };
        }
        return;
      }
      const container = await containerClientFor(source.access, source.address.container);
      // Folder ids without their trailing '/': what a user calls the folder.
      async function* walk(prefix: string, level: number): AsyncGenerator<string> {
        const pages = listedPages(container, prefix, {
          delimiter: '/',
          pageSize: 5000,
          retry: DEFAULT_RETRY,
          ...(signal ? { signal } : {}),
        });
        for await (const page of pages) {
          for (const entry of page) {
            if (entry.blob) continue; // a blob beside the folders: not a folder item
            if (level <= 1) yield entry.name;
            else yield* walk(entry.name, level - 1);
          }
        }
      }
      for await (const folder of walk(source.address.prefix, depth)) {
        const id = folder.replace(/\/$/, '');
        if (nameBeforeCursor(id, after) || !include(id)) continue;
        yield { id, size: 0, payload: { path: folder } };
      }
    },
  };
}
