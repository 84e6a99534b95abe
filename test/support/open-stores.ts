// Child process of the store-files test: opens (creating) the stores <prefix>-0.db ... <prefix>-<n-1>.db,
// the i-th at <start> + i * <gap> ms exactly (busy-waiting to the millisecond), so that two of these
// processes open each new store at the same instant. Prints one line per store: ok, or the error.
import { SqliteStore } from '../../src/store/sqlite/index.js';

const [prefix, rounds, start, gap] = process.argv.slice(2) as [string, string, string, string];
for (let i = 0; i < Number(rounds); i++) {
  const at = Number(start) + i * Number(gap);
  while (Date.now() < at) {
    // the two processes leave this loop in the same millisecond
  }
  try {
    const store = SqliteStore.open(`${prefix}-${i}.db`);
    await store.close();
    process.stdout.write('ok\n');
  } catch (error) {
    process.stdout.write(`${(error as Error).message}\n`);
  }
}
