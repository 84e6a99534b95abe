// Ten kept rows of one item over two days (the third a 429), as the parser would gather them.
import { type RowBatchData, RowCollector } from '../../src/rows/batch.js';
import { recordFacts } from '../../src/tasks/azure-logs/record.js';

export function tenRows(item: string): RowBatchData {
  const rows = new RowCollector();
  for (let line = 1; line <= 10; line += 1) {
    const day = `2024-06-0${1 + (line % 2)}`;
    rows.add(
      line,
      recordFacts({ time: `${day}T10:00:00.0000000Z`, resultSignature: line === 3 ? '429' : '200' }),
    );
  }
  rows.endItem(item);
  return rows.take();
}
