// The parser's fast path (scan.c), a Node-API add-on that scripts/build.mjs builds with the
// machine's C compiler into dist/scan.node. Where it is missing (no compiler, another platform) or
// SLUICE_NATIVE=0 is set, parse.ts reads every line itself, with the same answers.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { BUNDLED } from '../../bundle.js';

/** A table of the distinct values a scanner has read (scan.c), opaque here. */
export type ValueTable = { readonly __table: unique symbol };

/** scan.c's entries; its header comment says what they read and fill. */
export interface Scanner {
  table(): ValueTable;
  scan(
    table: ValueTable,
    bytes: Uint8Array,
    from: number,
    maxLineBytes: number,
    meta: Int32Array,
    records: Int32Array,
    latency: Float64Array,
    fresh: string[],
    tuples: Int32Array,
  ): void;
}

/** scan.c's `meta` slots and values. */
export const M = {
  status: 0,
  stop: 1,
  records: 2,
  lines: 3,
  reset: 4,
  minAt: 5,
  minLength: 6,
  maxAt: 7,
  maxLength: 8,
  tuples: 9,
  size: 10,
} as const;
export const STOP_LINE = 1;
/** Ints a tuple takes in `tuples`: day, model, version, deployment, operation, category, resource, status. */
export const TUPLE_INTS = 8;
export const STATUS_OTHER = -1;
export const STATUS_NONE = -2;

/** Where the build puts the add-on: dist/scan.node, beside dist/cli/ (or the same from source). */
export const SCANNER_PATH = fileURLToPath(
  new URL(BUNDLED ? '../scan.node' : '../../../dist/scan.node', import.meta.url),
);

function load(): { scanner: Scanner | null; why: string } {
  if (process.env.SLUICE_NATIVE === '0') return { scanner: null, why: 'it is turned off (SLUICE_NATIVE=0)' };
  try {
    return { scanner: createRequire(import.meta.url)(SCANNER_PATH) as Scanner, why: '' };
  } catch (error) {
    const reason = String((error as Error).message).split('\n')[0];
    return {
      scanner: null,
      why: `it did not load from ${SCANNER_PATH} (${reason}; npm run build compiles it)`,
    };
  }
}

const loaded = load();
/** This thread's scanner, or null where it is not built (or turned off). */
export const scanner: Scanner | null = loaded.scanner;
/** Why there is no scanner (empty when there is one), for `ingest --verbose`. */
export const noScanner: string = loaded.why;
