// Runs an analysis over files: each file read and analysed on its own (its own Drain state), then
// combined; `--structured` rows are spooled to a temporary file while reading and written with
// their final, merged template once every file is done, so memory does not grow with the input.

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { type Combined, combine } from './combine.js';
import {
  ANALYZE_DEFAULTS,
  type AnalyzeOptions,
  type EventRow,
  FileAnalyzer,
  type FileSummary,
} from './file-analyzer.js';
import { type InputFile, MAX_LINE_BYTES, openInput, readLines } from './input.js';

export interface RunOptions extends AnalyzeOptions {
  maxLineBytes: number;
  /** Where to write one CSV row per event, if anywhere. */
  structured?: string;
  topTemplates?: number;
}

export const STRUCTURED_COLUMNS = ['file', 'line', 'time', 'level', 'template_id', 'template', 'message'];

/** Analyses one file (or stdin) to its summary; `onEvent` sees every event. */
export async function analyzeFile(
  file: InputFile,
  options: AnalyzeOptions,
  maxLineBytes = MAX_LINE_BYTES,
  onEvent?: (row: EventRow) => void,
): Promise<FileSummary> {
  const analyzer = new FileAnalyzer(file.path, options, onEvent);
  let stream: ReturnType<typeof openInput>;
  try {
    stream = openInput(file);
  } catch (error) {
    analyzer.skipFile(`unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    return analyzer.finish();
  }
  await readLines(stream, analyzer, maxLineBytes);
  return analyzer.finish();
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

export async function analyzeInputs(
  files: InputFile[],
  partial: Partial<RunOptions> = {},
): Promise<Combined> {
  const options: RunOptions = { ...ANALYZE_DEFAULTS, maxLineBytes: MAX_LINE_BYTES, ...partial };
  const spoolDir = options.structured ? await mkdtemp(path.join(os.tmpdir(), 'sluice-analyze-')) : null;
  const spoolPath = spoolDir ? path.join(spoolDir, 'events.jsonl') : null;
  const spool = spoolPath ? createWriteStream(spoolPath) : null;
  try {
    const summaries: FileSummary[] = [];
    for (const [index, file] of files.entries()) {
      let pending = '';
      const flushSpool = async () => {
        if (spool && pending) {
          const text = pending;
          pending = '';
          await write(spool, text);
        }
      };
      const onEvent = spool
        ? (row: EventRow) => {
            pending += `${JSON.stringify([index, row.line, row.time, row.level, row.cluster, row.message])}\n`;
            if (pending.length > 1 << 16) void flushSpool();
          }
        : undefined;
      summaries.push(await analyzeFile(file, options, options.maxLineBytes, onEvent));
      await flushSpool();
    }
    const combined = combine(summaries, {
      slowMs: options.slowMs,
      drain: options.drain,
      ...(options.topTemplates !== undefined ? { topTemplates: options.topTemplates } : {}),
    });
    if (spool && spoolPath && options.structured) {
      spool.end();
      await once(spool, 'close');
      await writeStructured(spoolPath, options.structured, files, combined);
    }
    return combined;
  } finally {
    if (spool && !spool.closed) spool.destroy();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
}

async function writeStructured(
  spoolPath: string,
  target: string,
  files: InputFile[],
  combined: Combined,
): Promise<void> {
  const out = target === '-' ? process.stdout : createWriteStream(target);
  await write(out, stringify([STRUCTURED_COLUMNS]));
  const lines = createInterface({ input: createReadStream(spoolPath), crlfDelay: Number.POSITIVE_INFINITY });
  let batch: unknown[][] = [];
  for await (const text of lines) {
    const [index, line, time, level, cluster, message] = JSON.parse(text) as [
      number,
      number,
      string | null,
      string | null,
      number,
      string,
    ];
    const template = combined.templateOf(index, cluster);
    batch.push([
      files[index]?.path ?? '',
      line,
      time ?? '',
      level ?? '',
      template?.id ?? '',
      template?.template ?? '',
      message,
    ]);
    if (batch.length >= 1000) {
      await write(out, stringify(batch));
      batch = [];
    }
  }
  if (batch.length > 0) await write(out, stringify(batch));
  if (out !== process.stdout) {
    (out as ReturnType<typeof createWriteStream>).end();
    await once(out, 'close');
  }
}
