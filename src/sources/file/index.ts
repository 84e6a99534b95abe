// Local folder source: walks a directory tree lazily, one folder at a time, in a stable order,
// skipping whole `y=/m=/d=/h=` folders outside the time window without opening them. A folder that
// cannot be read (permissions, a symbolic link loop, a name that is not UTF-8) is skipped and
// reported, not the end of the listing.
import { type Dirent, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { type FileHandle, open as openFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ItemError, UsageError } from '../../errors.js';
import { compareNames, folderAfterCursor, folderBeforeCursor, nameBeforeCursor } from '../order.js';
import type { ItemRef, ListingProblem, ListingStats, ListOptions, Source } from '../types.js';
import { mayOverlap, type PathHour, readSegment } from '../window.js';

const READ_CHUNK = 1 << 20;
/** Folders read between two turns of the event loop, so timers and I/O keep flowing while listing. */
const FOLDERS_PER_TURN = 32;

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
/** Listing problems kept for the end-of-run summary; past this they are only counted. */
const PROBLEMS_KEPT = 20;

/** A folder being walked: its entries, the next one to visit, its y=/m=/d=/h= hour, the cursor inside it. */
interface Folder {
  entries: Entry[];
  next: number;
  hour: PathHour;
  after: string | undefined;
}

export class FileSource implements Source {
  readonly uri: string;
  readonly stats: ListingStats = { foldersOpened: 0, itemsListed: 0, foldersPruned: 0, unreadable: 0 };
  private readonly problems: ListingProblem[] = [];
  /** Where problems go as they happen (the current listing's `onProblem`). */
  private onProblem: ((problem: ListingProblem) => void) | undefined;

  /** The root with its trailing separator. */
  private readonly prefix: string;

  private constructor(private readonly root: string) {
    this.uri = `file:${root}`;
    this.prefix = root.endsWith(path.sep) ? root : `${root}${path.sep}`;
  }

  /** Opens a folder as a source; a missing or non-folder path is a usage error. */
  static async open(location: string): Promise<FileSource> {
    const root = path.resolve(folderOf(location));
    const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(
        `source folder ${root} does not exist or cannot be read (${error.code ?? error.message})`,
      );
    });
    if (!info.isDirectory())
      throw new UsageError(`source ${root} is a file, not a folder: give the folder that holds the logs`);
    return new FileSource(root);
  }

  listingProblems(): readonly ListingProblem[] {
    return this.problems;
  }

  /**
   * Walks the tree depth first with a stack of open folders, not one generator per level: an item
   * then costs one step of one generator, however deep it lies.
   */
  async *list(options: ListOptions = {}): AsyncIterable<ItemRef> {
    this.onProblem = options.onProblem;
    const stack: Folder[] = [{ entries: this.read(''), next: 0, hour: {}, after: options.after }];
    while (stack.length > 0) {
      if (options.signal?.aborted) return;
      const folder = stack[stack.length - 1] as Folder;
      const entry = folder.entries[folder.next++];
      if (entry === undefined) {
        stack.pop();
        continue;
      }
      const { after } = folder;
      if (entry.dir) {
        const hour = readSegment(folder.hour, entry.name);
        if (!mayOverlap(hour, options.window) || folderBeforeCursor(entry.key, after)) {
          this.stats.foldersPruned += 1;
          continue;
        }
        if (this.stats.foldersOpened % FOLDERS_PER_TURN === 0)
          await new Promise((resolve) => setImmediate(resolve));
        const inner = folderAfterCursor(entry.key, after) ? undefined : after;
        stack.push({ entries: this.read(entry.id), next: 0, hour, after: inner });
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

  /**
   * One folder's entries in listing order, files with their size. Synchronous on purpose: on a
   * local disk a readdir or stat takes microseconds, far less CPU than the promise and thread-pool
   * round trip of the async call, and the parser threads need that CPU. The walk yields to the
   * event loop between folders (see FOLDERS_PER_TURN). A folder below the root that cannot be read
   * is reported and has no entries; the root itself unreadable is a usage error.
   */
  private read(relative: string): Entry[] {
    this.stats.foldersOpened += 1;
    let dirents: Dirent[];
    try {
      dirents = readdirSync(this.localPath(relative), { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (relative === '') throw new UsageError(`cannot list the source folder ${this.root} (${code})`);
      this.problem(relative, code);
      return [];
    }
    const entries: Entry[] = [];
    let real: string | undefined;
    for (const entry of dirents) {
      const id = relative === '' ? entry.name : `${relative}/${entry.name}`;
      // Node decodes a name that is not UTF-8 with U+FFFD: that name opens nothing, so say so once.
      if (entry.name.includes('\ufffd') && !exists(this.localPath(id))) {
        this.problem(id, 'its name is not valid UTF-8');
        continue;
      }
      if (entry.isDirectory()) {
        entries.push({ name: entry.name, id, dir: true, key: `${id}/` });
        continue;
      }
      // A link is what it points to; a dangling one is listed as an item, whose read then says why it fails.
      let info: ReturnType<typeof statSync>;
      try {
        info = statSync(this.localPath(id), { throwIfNoEntry: false });
      } catch (error) {
        this.problem(id, (error as NodeJS.ErrnoException).code ?? (error as Error).message); // ELOOP, EACCES
        continue;
      }
      if (info?.isDirectory()) {
        // A link back to a folder above it would be walked forever (until ELOOP): skip it.
        real ??= realpathSync(this.localPath(relative));
        const target = realpathSync(this.localPath(id));
        if (real === target || real.startsWith(`${target}${path.sep}`)) {
          this.problem(id, `a symbolic link loop back to ${target}`);
          continue;
        }
        entries.push({ name: entry.name, id, dir: true, key: `${id}/` });
        continue;
      }
      entries.push({
        name: entry.name,
        id,
        dir: false,
        key: id,
        size: info?.size ?? 0,
        version: info ? String(info.mtimeMs) : undefined,
      });
    }
    return entries.sort((x, y) => compareNames(x.key, y.key));
  }

  private problem(where: string, reason: string): void {
    const problem = { path: where, reason };
    this.stats.unreadable = (this.stats.unreadable ?? 0) + 1;
    if (this.problems.length < PROBLEMS_KEPT) this.problems.push(problem);
    this.onProblem?.(problem);
  }

  async open(id: string, start: number): Promise<Readable> {
    const file = this.localPath(id);
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

  /** The file's path: the root and the id joined as they are (both are clean: no path.join needed). */
  localPath(id: string): string {
    return id === '' ? this.root : `${this.prefix}${id}`;
  }

  async close(): Promise<void> {}
}

/**
 * The folder a `<source>` names: a path, `file:<path>` or a `file:///` URL. Nothing (`""`, `file:`)
 * is refused: it would quietly ingest the current folder.
 */
export function folderOf(location: string): string {
  if (/^file:\/\//i.test(location)) {
    try {
      return fileURLToPath(location);
    } catch (error) {
      throw new UsageError(
        `source ${JSON.stringify(location)} is not a local file URL (${(error as Error).message}): use file:///absolute/path or a plain path`,
      );
    }
  }
  const folder = /^file:/i.test(location) ? location.slice(5) : location;
  if (folder.trim() === '') {
    throw new UsageError(
      `no source folder given${location ? ` (${JSON.stringify(location)})` : ''}: name one, e.g. ./logs, file:./logs or file:///data/logs (. for this folder)`,
    );
  }
  return folder;
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
