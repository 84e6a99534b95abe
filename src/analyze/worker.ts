// One file's analysis, as run on a worker thread (or inline): read, analyse, and spool its
// `--structured` rows to its own file. Returns plain data that crosses threads and merges.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { AnalyzeOptions, FileSummary } from './file-analyzer.js';
import { FileAnalyzer } from './file-analyzer.js';
import { type ByteRange, type InputFile, type LineSink, openInput, readLines } from './input.js';

export interface FileJob {
  file: InputFile;
  options: AnalyzeOptions;
  maxLineBytes: number;
  /** Where to spool this file's events (JSON lines: line, time, level, cluster, message), if anywhere. */
  spool: string | null;
  /**
   * Only these bytes of the file, which start an event and end a line (segments.ts); its format
   * is then given, and its lines are numbered from 1.
   */
  segment?: ByteRange;
}

export default async function analyzeFileJob(job: FileJob): Promise<FileSummary> {
  const spool = job.spool ? createWriteStream(job.spool) : null;
  let pending = '';
  const analyzer = new FileAnalyzer(
    job.file.path,
    job.options,
    spool
      ? (row) => {
          pending += `${JSON.stringify([row.line, row.time, row.level, row.cluster, row.message])}\n`;
        }
      : undefined,
    job.segment !== undefined,
  );
  const sink: LineSink = {
    line: (text, n) => analyzer.line(text, n),
    skipLongLine: () => analyzer.skipLongLine(),
    invalidUtf8: () => analyzer.invalidUtf8(),
    skipFile: (reason) => analyzer.skipFile(reason),
    // Reading waits while the spool's disk catches up, so memory stays bounded.
    chunkEnd: async () => {
      if (!spool || pending.length < 1 << 16) return;
      const text = pending;
      pending = '';
      if (!spool.write(text)) await once(spool, 'drain');
    },
  };
  try {
    await readLines(await openInput(job.file, job.segment), sink, job.maxLineBytes, !job.segment);
  } catch (error) {
    analyzer.skipFile(`unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const summary = analyzer.finish();
  if (spool) {
    spool.end(pending);
    await once(spool, 'close');
  }
  return summary;
}
