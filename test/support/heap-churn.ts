// Child process for the heap test: churns objects that live long enough to reach the old
// generation (as in-flight requests do), keeping some 20 MB alive, and prints the largest heap
// V8 held. With `tighten`, it first applies sluice's heap setting.
import { tightenHeap } from '../../src/engine/heap.js';

if (process.argv[2] === 'tighten') tightenHeap();
const window: unknown[][] = [];
let peak = 0;
for (let round = 0; round < 3000; round++) {
  window.push(Array.from({ length: 2000 }, (_, i) => ({ round, i, text: `item ${round}/${i}` })));
  if (window.length > 80) window.shift();
  if (round % 10 === 0) peak = Math.max(peak, process.memoryUsage().heapTotal);
}
process.stdout.write(`${JSON.stringify({ peakHeap: peak })}\n`);
