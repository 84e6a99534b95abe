// One large file on all cores: cut into segments that each start an event, read apart (on the
// worker threads when there are any), and merged back into the one file's summary.
//
// What is exact: events, levels, errors and their examples, API figures, times and line numbers
// are what one pass gives, because every cut is at a line that starts an event whatever came
// before it (a header line), so no event spans two segments and nothing else is carried from
// line to line but templates and training output. Templates are mined per segment and merged as
// different files' are (combine.ts). Training output, whose state runs across lines, is not
// parsed in segments: when a segment saw any line that could be some, the file's training run is
// read in one pass of its own. The cuts depend on the file alone, so the result is the same on
// every machine, whatever its cores.
import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ApiCounter } from './api.js';
import { mergeCategory } from './combine.js';
import { Drain, seen } from './drain.js';
import {
  type CategoryTally,
  DETECT_SAMPLE,
  detectFileFormat,
  type FileSummary,
  startsEvent,
} from './file-analyzer.js';
import type { LogFormat } from './formats.js';
import { type ByteRange, openInput, readLines } from './input.js';
import { emptyLevelCounts, LEVELS } from './levels.js';
import type { Category } from './rules.js';
import { TrainingParser } from './training.js';
import type { FileJob } from './worker.js';

/** Files from this size are read in segments. */
export const SEGMENT_FROM_BYTES = 8 << 20;
/** At most this many segments a file (fewer, larger ones for very large files: fewer merges). */
const MAX_SEGMENTS = 64;
const MIN_SEGMENT_BYTES = 2 << 20;
/** Bytes read from the start of the file to decide its format. */
const HEAD_BYTES = 4 << 20;
/** Bytes searched past a segment's nominal start for a line that starts an event. */
const CUT_WINDOW = 256 << 10;

/** Formats whose every line is training output or CSV: their state runs across lines. */
const WHOLE_ONLY = new Set<LogFormat>(['keras', 'lightning', 'huggingface', 'metrics-csv']);

function segmentStep(size: number): number {
  return Math.max(MIN_SEGMENT_BYTES, Math.ceil(size / MAX_SEGMENTS));
}

/** About how many segments a file of `size` bytes is read in (1: whole). */
export function segmentsFor(size: number): number {
  return size < SEGMENT_FROM_BYTES ? 1 : Math.ceil(size / segmentStep(size));
}

export interface SegmentPlan {
  format: LogFormat;
  segments: ByteRange[];
}

/** Whether a job's file may be cut at all: a local, uncompressed file without `--structured` rows. */
export function segmentable(job: Pick<FileJob, 'file' | 'spool'>): boolean {
  const { file } = job;
  return job.spool === null && !file.blob && file.path !== '-' && !file.path.endsWith('.gz');
}

/** Where a file is cut, or null when it is read whole (small, training output, binary, no cuts found). */
export async function planSegments(job: FileJob): Promise<SegmentPlan | null> {
  if (!segmentable(job)) return null;
  const size = await stat(job.file.path).then(
    (s) => (s.isFile() ? s.size : 0),
    () => 0,
  );
  if (size < SEGMENT_FROM_BYTES) return null;
  const format =
    job.options.format === 'auto' ? await headFormat(job.file.path, job.maxLineBytes) : job.options.format;
  if (format === null || WHOLE_ONLY.has(format)) return null;
  const step = segmentStep(size);
  const cuts = [0];
  const fd = openSync(job.file.path, 'r');
  try {
    const window = Buffer.allocUnsafe(CUT_WINDOW + 1);
    for (let at = step; at < size; at += step) {
      const cut = findCut(fd, window, at, size, format, job.maxLineBytes);
      if (cut !== null && cut > (cuts.at(-1) as number) && cut < size) cuts.push(cut);
    }
  } finally {
    closeSync(fd);
  }
  if (cuts.length < 2) return null;
  return { format, segments: cuts.map((start, i) => ({ start, end: cuts[i + 1] ?? size })) };
}

/** The format `FileAnalyzer` would detect: from the file's first DETECT_SAMPLE lines, as it reads them. */
async function headFormat(path: string, maxLineBytes: number): Promise<LogFormat | null> {
  const lines: string[] = [];
  let binary = false;
  await readLines(
    await openInput({ path }, { start: 0, end: HEAD_BYTES }),
    {
      line: (text) => {
        if (lines.length <= DETECT_SAMPLE) lines.push(text.endsWith('\r') ? text.slice(0, -1) : text);
      },
      skipLongLine: () => {},
      invalidUtf8: () => {},
      skipFile: () => {
        binary = true;
      },
    },
    maxLineBytes,
  );
  // More lines than the sample: the sample's lines all ended within the bytes read.
  if (binary || lines.length <= DETECT_SAMPLE) return null;
  return detectFileFormat(lines.slice(0, DETECT_SAMPLE));
}

/** The start of the first line at or after `at` that starts an event, within CUT_WINDOW. */
function findCut(
  fd: number,
  window: Buffer,
  at: number,
  size: number,
  format: LogFormat,
  maxLineBytes: number,
): number | null {
  // One byte before `at`, to know whether a line starts right at it.
  const from = at - 1;
  const n = readSync(fd, window, 0, Math.min(window.length, size - from), from);
  let start = window.indexOf(10) + 1;
  if (start === 0) return null;
  while (start < n) {
    const end = window.indexOf(10, start);
    if (end < 0 || end >= n) return null;
    if (end - start <= maxLineBytes && startsEvent(window.toString('utf8', start, end), format)) {
      return from + start;
    }
    start = end + 1;
  }
  return null;
}

/**
 * The file's summary from its segments' (in file order): line numbers moved to where each
 * segment starts, templates merged, and the training run read apart when a segment saw a hint of one.
 */
export async function mergeSegments(
  job: FileJob,
  format: LogFormat,
  parts: FileSummary[],
): Promise<FileSummary> {
  const levels = emptyLevelCounts();
  const errors = new Map<Category, CategoryTally>();
  const drain = new Drain(job.options.drain);
  const api = new ApiCounter(job.options.slowMs);
  const out: FileSummary = {
    path: job.file.path,
    format,
    lines: 0,
    events: 0,
    levels,
    noLevel: 0,
    first: null,
    last: null,
    errors: {},
    clusters: [],
    templateOverflow: 0,
    training: null,
    api: api.toData(),
    skipped: { longLines: 0, invalidUtf8Lines: 0, file: null },
  };
  let trainingHint = false;
  for (const part of parts) {
    const base = out.lines;
    out.lines += part.lines;
    out.events += part.events;
    out.noLevel += part.noLevel;
    for (const level of LEVELS) levels[level] += part.levels[level];
    if (part.first && (!out.first || part.first < out.first)) out.first = part.first;
    if (part.last && (!out.last || part.last > out.last)) out.last = part.last;
    for (const tally of Object.values(part.errors) as CategoryTally[]) {
      mergeCategory(errors, {
        ...tally,
        examples: tally.examples.map((e) => ({ ...e, line: e.line + base })),
      });
    }
    for (const c of part.clusters) drain.addTokens(c.tokens, c.count, c.levels, c.firstSeen, c.lastSeen);
    out.templateOverflow += part.templateOverflow;
    api.addTally({
      ...part.api,
      slowExamples: part.api.slowExamples.map((e) => ({ ...e, line: e.line + base })),
    });
    out.skipped.longLines += part.skipped.longLines;
    out.skipped.invalidUtf8Lines += part.skipped.invalidUtf8Lines;
    out.skipped.file ??= part.skipped.file;
    trainingHint ||= part.trainingHint === true;
  }
  out.errors = Object.fromEntries(errors);
  out.templateOverflow += drain.overflow;
  out.clusters = drain.clusters.map((c) => ({
    tokens: c.tokens,
    count: c.count,
    levels: c.levels,
    ...seen(c),
  }));
  out.api = api.toData();
  if (trainingHint) out.training = await trainingRun(job);
  return out;
}

/** The file's training run, read in one pass as `FileAnalyzer` reads it (every line it processes, in order). */
async function trainingRun(job: FileJob): Promise<FileSummary['training']> {
  const parser = new TrainingParser(job.file.path, false);
  await readLines(
    await openInput(job.file),
    {
      line: (text) => parser.line(text.endsWith('\r') ? text.slice(0, -1) : text),
      skipLongLine: () => {},
      invalidUtf8: () => {},
      skipFile: () => {},
    },
    job.maxLineBytes,
  );
  return parser.finish();
}
