// Child process of the keep-rows test: the rows writer's thread dies while a write waits on it.
// Prints what the writer did as one JSON line. Run apart from the test runner because DuckDB's
// Node bindings abort the whole process in about one run of five: the DuckDB call that the
// termination interrupts completes into the thread's torn-down environment and throws a C++
// exception there (Napi::AsyncWorker::OnAsyncWorkComplete -> std::terminate, seen under gdb).
// sluice itself never ends a writer thread with a call in flight: its pool closes after the last
// write. The test runs this again when that abort happens.
import type { Worker } from 'node:worker_threads';
import { RowsWriterThread } from '../../src/rows/thread.js';
import { tenRows } from './ten-rows.js';

const rowsDir = process.argv[2] as string;
const out: Record<string, unknown> = {};
const writer = await RowsWriterThread.open(rowsDir, 1);
try {
  const batch = tenRows('blob-a');
  const files = await writer.write({ item: 'blob-a', fence: 1, offset: 0 }, [{ batch }]);
  out.filesA = files.get('blob-a')?.length ?? 0;
  out.leftBehind = batch.line.byteLength;
  const held = writer.write({ item: 'blob-b', fence: 1, offset: 0 }, [{ batch: tenRows('blob-b') }]);
  await (writer as unknown as { pool: { threads: Worker[] } }).pool.threads[0]?.terminate();
  out.held = await held.then(
    () => 'written',
    (error: Error) => error.message,
  );
  const again = await writer.write({ item: 'blob-c', fence: 1, offset: 0 }, [{ batch: tenRows('blob-c') }]);
  out.filesC = again.get('blob-c')?.length ?? 0;
} finally {
  await writer.close();
}
out.afterClose = await writer
  .write({ item: 'blob-d', fence: 1, offset: 0 }, [{ batch: tenRows('blob-d') }])
  .then(
    () => 'written',
    (error: Error) => error.message,
  );
process.stdout.write(`${JSON.stringify(out)}\n`);
