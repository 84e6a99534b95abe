// The rows writer's own thread (rows/thread.ts runs it through a one-thread pool): DuckDB loads here,
// and each pass's rows become Parquet here, so the main thread, which lists, leases, commits and
// feeds the parser threads, spends nothing on them but a message.
import { workerData } from 'node:worker_threads';
import type { RowsRequest, RowsThreadData, RowsValue } from './thread.js';
import { RowsWriter } from './writer.js';

const { dir, writers } = workerData as RowsThreadData;
let opening: Promise<RowsWriter> | undefined;

export default async function answer(request: RowsRequest): Promise<RowsValue> {
  opening ??= RowsWriter.open(dir, writers);
  const writer = await opening;
  switch (request.op) {
    case 'open':
      return null;
    case 'write':
      return [...(await writer.write(request.pass, request.parts))];
    case 'compact':
      return writer.compactFiles(request.files, request.at);
    case 'close':
      writer.close();
      opening = undefined;
      return null;
  }
}
