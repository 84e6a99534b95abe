// Keeping V8's heap close to what an ingest really holds.
//
// An ingest keeps little alive (items in flight, a batch of deltas waiting for commit: tens of
// MB), but allocates a lot that dies young (every HTTP response's headers, every parsed record).
// Left to its defaults, V8 lets the old generation grow to up to four times the live size after
// each full collection, so a process with 20 MB live sits at 100 MB of heap, most of it garbage
// waiting for the next collection. Growing the limit by 1.5 times the live size instead keeps the
// heap near two and a half times the live data. 50 % (the value before) held peak RSS ~15 MB lower
// still, but its full collections every ~50 ms cost the Azure benchmark's short job 0.25 s of its
// ~1.7 s of CPU (user time 1.45-1.54 s at 150 % against 1.69-1.80 s at 50 %; peak RSS 150-156 MB
// against 135-138 MB, where the 100-way SDK pool peaks near 200 MB).
import { setFlagsFromString } from 'node:v8';

/** Growth of the old generation's limit over the live size after a full collection, percent. */
export const HEAP_GROWING_PERCENT = 150;

/**
 * Tightens the heap's growth for this process (worker threads included: V8's flags are per
 * process). V8 reads this flag at every full collection, so setting it after start-up takes
 * effect. Leaves it alone when the user gave node a value (`node --heap-growing-percent=…`;
 * node refuses it in NODE_OPTIONS). Returns whether it set the flag.
 */
export function tightenHeap(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
