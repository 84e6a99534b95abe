// Which kept rows count: the files named by items' checkpoints. A checkpoint changes only when its
// item's outcome commits, so a file written by an attempt that never committed (killed, lease lost)
// is named by none and never read: every record's row is read once, whatever happened to the runs.
import type { Store } from '../store/types.js';
import { fromCheckpoint } from '../tasks/azure-logs/checkpoint.js';

/** What passFile names (a name from the store is never a path out of the folder). */
const PASS_FILE = /^day=[\w-]+\/[0-9a-f]+-\d+-\d+-\d+\.parquet$/;
/** Items read from the store at once. */
const PAGE = 5000;

export interface CommittedRows {
  /** Some item kept rows (its checkpoint names its files, none perhaps). */
  kept: boolean;
  /** Every file named, relative to the rows folder, once each. */
  files: string[];
  /** The folder recorded by ingest --rows-dir, if any. */
  dir: string | null;
}

export async function committedRows(store: Store, job: string): Promise<CommittedRows> {
  const files = new Set<string>();
  let kept = false;
  let dir: string | null = null;
  let after: string | undefined;
  for (;;) {
    const page = await store.listItems(job, { limit: PAGE, ...(after !== undefined ? { after } : {}) });
    for (const item of page) {
      const c = fromCheckpoint(item.checkpoint);
      if (!c.rows) continue;
      kept = true;
      for (const f of c.rows) if (PASS_FILE.test(f)) files.add(f);
      if (c.rowsDir !== undefined) dir ??= c.rowsDir;
    }
    if (page.length < PAGE) break;
    after = (page.at(-1) as { id: string }).id;
  }
  return { kept, files: [...files], dir };
}
