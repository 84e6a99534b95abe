// Static hash partitions (--partition i/n): machines that share nothing split one job's items
// by a stable hash of the item id, so every item belongs to exactly one partition.
import { UsageError } from '../errors.js';

export interface Partition {
  index: number;
  count: number;
}

export function parsePartition(text: string): Partition {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) {
    throw new UsageError(
      `--partition ${JSON.stringify(text)} is not i/n with 0 <= i < n (e.g. 0/3, 1/3, 2/3)`,
    );
  }
  return { index, count };
}

/** FNV-1a, 32 bits: stable across machines, versions and platforms. */
export function partitionOf(id: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}
