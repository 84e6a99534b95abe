// Local folder source: walks a directory tree lazily, one folder at a time, in a stable order,
// skipping whole `y=/m=/d=/h=` folders outside the time window without opening them.
import { type FileHandle, open as openFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ItemError, UsageError } from '../../errors.js';
import { compareNames, folderAfterCursor, folderBeforeCursor, nameBeforeCursor } from '../order.js';
import type { ItemRef, ListingStats, ListOptions, Source } from '../types.js';
import { mayOverlap, type PathHour, readSegment } from '../window.js';

const READ_CHUNK = 1 << 20;

interface Entry {
  name: string;
  id: string;
  dir: boolean;
  /** Sort key: folders sort as their name with a trailing '/' (see ../order.ts). */
  key: string;
  size?: number;
  version?: string | undefined;
}
const MIN_CHUNK = 16 << 10;

export class FileSource implements Source {
  readonly uri: string;
  readonly stats: ListingStats = { foldersOpened: 0, itemsListed: 0, foldersPruned: 0 };

  private constructor(private readonly root: string) {
    this.uri = `file:${root}`;
  }

  /** Opens a folder as a source; a missing or non-folder path is a usage error. */
  static async open(location: string): Promise<FileSource> {
    const root = path.resolve(location.startsWith('file:') ? location.slice(5) : location);
    const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(
        `source folder ${root} does not exist or cannot be read (${error.code ?? error.message})`,
      );
    });
    if (!info.isDirectory())
      throw new UsageError(`source ${root} is a file, not a folder: give the folder that holds the logs`);
    return new FileSource(root);
  }

  async *list(options: ListOptions = {}): AsyncIterable<ItemRef> {
    yield* this.walk({}, options.after, options, this.read(''));
  }

  /** One folder's entries in listing order, files with their size: started ahead of the walk. */
  private async read(relative: string): Promise<Entry[]> {
    this.stats.foldersOpened += 1;
    const entries = await Promise.all(
      (await readdir(path.join(this.root, relative), { withFileTypes: true })).map(
        async (entry): Promise<Entry> => {
          const id = relative === '' ? entry.name : `${relative}/${entry.name}`;
          if (entry.isDirectory()) return { name: entry.name, id, dir: true, key: `${id}/` };
          // A link is what it points to; a dangling one is listed as an item, whose read then says why it fails.
          const info = await stat(path.join(this.root, id)).catch(() => undefined);
          if (info?.isDirectory()) return { name: entry.name, id, dir: true, key: `${id}/` };
          return {
            name: entry.name,
            id,
            dir: false,
            key: id,
            size: info?.size ?? 0,
            version: info ? String(info.mtimeMs) : undefined,
          };
        },
      ),
    );
    return entries.sort((x, y) => compareNames(x.key, y.key));
  }

  private async *walk(
    hour: PathHour,
    after: string | undefined,
    options: ListOptions,
    listing: Promise<Entry[]>,
  ): AsyncIterable<ItemRef> {
    if (options.signal?.aborted) return;
    const entries = await listing;
    // Start reading every sub-folder that will be walked now: the reads overlap instead of
    // waiting on each other (a folder has at most a few dozen entries in the Azure layout).
    const children = entries.map((entry) => {
      if (!entry.dir) return undefined;
      const next = readSegment(hour, entry.name);
      if (!mayOverlap(next, options.window) || folderBeforeCursor(entry.key, after)) return null;
      const read = this.read(entry.id);
      read.catch(() => {}); // awaited (and its error thrown) when the walk reaches it
      return { next, read };
    });
    for (const [i, entry] of entries.entries()) {
      const child = children[i];
      if (child === null) {
        this.stats.foldersPruned += 1;
      } else if (child) {
        yield* this.walk(
          child.next,
          folderAfterCursor(entry.key, after) ? undefined : after,
          options,
          child.read,
        );
      } else if (!nameBeforeCursor(entry.id, after)) {
        this.stats.itemsListed += 1;
        yield {
          id: entry.id,
          size: entry.size ?? 0,
          ...(entry.version === undefined ? {} : { version: entry.version }),
        };
      }
    }
  }

  async open(id: string, start: number): Promise<Readable> {
    const file = path.join(this.root, id);
    let handle: FileHandle | undefined;
    let size: number;
    try {
      handle = await openFile(file, 'r');
      size = (await handle.stat()).size;
    } catch (error) {
      await handle?.close();
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new ItemError(`cannot read ${file}: ${code}`, false, undefined, { cause: error });
    }
    // Most blobs are far smaller than a read chunk: size the buffer to the blob, not the other way.
    const highWaterMark = Math.max(MIN_CHUNK, Math.min(READ_CHUNK, size - start));
    return handle.createReadStream({ start, highWaterMark, autoClose: true });
  }

  localPath(id: string): string {
    return path.join(this.root, id);
  }

  async close(): Promise<void> {}
}
