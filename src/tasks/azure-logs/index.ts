// The azure-logs task: parses PT1H.json blobs on a pool of worker threads. Local files are read by
// the workers themselves; remote bytes are cut at newlines into chunks that parse independently
// (their deltas add up to the blob's) and are transferred, not copied, to the workers.
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { Delta } from '../../aggregate/delta.js';
import { workerUrl } from '../../bundle.js';
import { ItemError } from '../../errors.js';
import { type RowBatchData, RowCollector } from '../../rows/batch.js';
import type { RowsSink } from '../../rows/thread.js';
import type { PassId, PassRows } from '../../rows/writer.js';
import type { Source } from '../../sources/types.js';
import type { GroupOutcome, LeasedItem, Outcome, Task } from '../types.js';
import {
  type Checkpoint,
  fromCheckpoint,
  MARK_BYTES,
  markOf,
  type Resume,
  sameMark,
  type TailMark,
  type TaskResult,
  toCheckpoint,
} from './checkpoint.js';
import { scanner } from './native.js';
import { BlobParser, MAX_LINE_BYTES, type ParseLimits, startsAsWrapper } from './parse.js';
import parseJob, { type GroupOutput, type ParseJob, type ParseOutput } from './worker.js';

/** Bytes per chunk sent to a worker. */
const CHUNK_BYTES = 4 << 20;
/** Remote chunks smaller than this are parsed on the main thread. */
const INLINE_BYTES = 256 << 10;
/** Chunks of one item parsed at once: bounds an item's memory whatever the blob's size. */
const CHUNKS_IN_FLIGHT = 2;
/**
 * Most local files parsed as one job, and their most bytes (a group stops growing past it). Each job
 * costs the main thread a hand-off, a result to merge and a place in a commit, whatever its size.
 */
const GROUP_ITEMS = 128;
const GROUP_BYTES = 8 << 20;
/**
 * With --keep-rows, groups may hold this many times more files and bytes: each group's rows are one
 * write of a file per day it covers, and each file costs DuckDB ~2 ms whatever its size. On the rows
 * benchmark (3,441 hourly files over 20 days) that is 168 files in place of 187, and 7 writes in
 * place of 27 (rows/thread.ts says what this and the writer's own thread gained together). A group's
 * rows take ~40 bytes a record: a few MB.
 */
const ROWS_GROUP_FACTOR = 4;
/**
 * The young generation of each parser thread's heap, MB (V8's default grows to 48). What a parse
 * allocates dies young, and the larger space only held garbage longer: an ingest of the 2 GB
 * benchmark set peaked at 248-253 MiB with the default and 200-202 MiB with 8, and parsing with
 * JSON.parse alone took the same CPU (3.8-4.0 s user on the modern set, against 3.8-4.1 s).
 */
const WORKER_YOUNG_MB = 8;
/** Errors that reading again cannot mend (the file is gone or unreadable). */
const PERMANENT = /\b(ENOENT|EACCES|EPERM|EISDIR|ENOTDIR|ELOOP)\b/;

export interface AzureLogsOptions {
  /** Worker threads; 0 parses on the main thread. Default: the machine's cores. */
  threads?: number;
  /** Longest line or record parsed, in bytes (default MAX_LINE_BYTES); a longer one is malformed. */
  maxLineBytes?: number;
  /**
   * Keep one row per record (--keep-rows): each pass writes its rows through `writer` before its
   * outcome is returned, and names the files in the item's checkpoint (so they commit with it).
   * `dir` is recorded in each checkpoint when the folder is not the default one beside the store.
   */
  rows?: { writer: RowsSink | Promise<RowsSink>; dir?: string };
}

/** One pass's parse, merged: its result and, with rows kept, its rows (lines made absolute). */
type PassResult = TaskResult & { rows: PassRows[] };

export function createAzureLogsTask(source: Source, options: AzureLogsOptions = {}): Task {
  const threads = options.threads ?? availableParallelism();
  const limits: ParseLimits = { maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES };
  const keepRows = options.rows;
  // Started on first use: a run of small remote blobs never needs it (and never pays its memory).
  let pool: Piscina<ParseJob, ParseOutput | GroupOutput> | undefined;
  const workers = () => {
    if (pool) return pool;
    pool = new Piscina<ParseJob, ParseOutput | GroupOutput>({
      filename: workerUrl(import.meta.url, 'azure-logs-worker').href,
      minThreads: threads,
      maxThreads: threads,
      // Jobs are synchronous, so a worker runs them one at a time anyway; queueing a few at
      // each worker spares it the round trip through the main thread between two jobs.
      concurrentTasksPerWorker: 4,
      idleTimeout: 60_000,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB },
    });
    // The pool's 'error' event is for what belongs to no task: the reply of a parse that a stop
    // aborted after it had finished ("Unexpected message from Worker"), a throw in an idle worker.
    // A task's own failure rejects its run(). Unheard, the event would end the process mid-stop.
    pool.on('error', () => {});
    return pool;
  };

  const run = async (unlimited: ParseJob, signal: AbortSignal): Promise<ParseOutput | GroupOutput> => {
    const job: ParseJob = { ...unlimited, limits, ...(keepRows ? { rows: true } : {}) };
    // Without threads, or for a small chunk (where the hand-off would cost more than the parse), inline.
    if (threads === 0 || (job.kind === 'bytes' && job.bytes.byteLength < INLINE_BYTES)) return parseJob(job);
    if (job.kind === 'bytes') {
      // Chunks are fresh buffers nobody else holds: move their memory to the worker, no copy. A view
      // that owns little of its buffer (Node's shared pool for small ones) is copied instead.
      const view = job.bytes;
      const bytes = view.buffer.byteLength <= 2 * view.byteLength ? view : new Uint8Array(view);
      return workers().run({ ...job, bytes }, { signal, transferList: [bytes.buffer as ArrayBuffer] });
    }
    return workers().run(job, { signal });
  };

  /** Reads `length` bytes of the item at `start` (fewer if it ends first). */
  const readRange = async (id: string, start: number, length: number, signal: AbortSignal) => {
    const path = source.localPath?.(id);
    if (path) {
      const fd = openSync(path, 'r');
      try {
        const buffer = Buffer.alloc(length);
        let n = 0;
        while (n < length) {
          const got = readSync(fd, buffer, n, length - n, start + n);
          if (got === 0) break;
          n += got;
        }
        return buffer.subarray(0, n);
      } finally {
        closeSync(fd);
      }
    }
    const stream = await source.open(id, start, signal);
    const pieces: Buffer[] = [];
    let n = 0;
    for await (const chunk of stream) {
      pieces.push(Buffer.from(chunk as Uint8Array));
      n += (chunk as Uint8Array).byteLength;
      if (n >= length) break;
    }
    stream.destroy();
    return Buffer.concat(pieces, n).subarray(0, length);
  };

  /**
   * A resumed item must still start with the bytes its last pass ended on: then it was appended
   * to, and reading on from the checkpoint is exact. Otherwise it was replaced, and its old counts
   * cannot be told apart from the job's: the item fails loudly, and --recount counts again.
   */
  const checkAppended = async (item: LeasedItem, c: Checkpoint, signal: AbortSignal) => {
    const end = c.mark?.end ?? c.offset;
    let same = item.size >= end;
    if (same && c.mark) {
      same = sameMark(c.mark, await readRange(item.id, c.mark.end - c.mark.length, c.mark.length, signal));
    }
    if (!same) {
      throw new ItemError(
        `${item.id} was replaced after it was counted (its first ${end} bytes are not the ones counted): ` +
          'its old counts cannot be taken back exactly. Run the same ingest with --recount to count the job again.',
        false,
      );
    }
  };

  const outcome = (
    result: Omit<TaskResult, 'delta'>,
    from: Resume,
    mark: TailMark | undefined,
    rows: string[] | undefined,
  ) => ({
    checkpoint: toCheckpoint(
      result.resume,
      mark,
      rows && keepRows
        ? { files: rows, ...(keepRows.dir !== undefined ? { dir: keepRows.dir } : {}) }
        : undefined,
    ),
    covered: from.offset + result.bytes,
    records: result.records,
    bytes: result.bytes,
  });

  /**
   * Writes a pass's rows (nothing without --keep-rows) and returns each item's files: the ones its
   * earlier passes wrote, and this pass's.
   */
  const keep = async (
    pass: PassId,
    parts: PassRows[],
    earlier: Map<string, string[] | undefined>,
  ): Promise<Map<string, string[]>> => {
    const files = new Map<string, string[]>();
    if (!keepRows) return files;
    if (parts.every((p) => p.batch.count === 0)) {
      for (const [id, before] of earlier) if (before) files.set(id, before);
      return files;
    }
    const written = await (await keepRows.writer).write(pass, parts);
    for (const [id, before] of earlier) files.set(id, [...(before ?? []), ...(written.get(id) ?? [])]);
    return files;
  };

  const isLocal = Boolean(source.localPath);
  // With the native scanner, a remote blob is parsed here as its bytes arrive: the scan costs less
  // than handing the bytes to a thread (gathering them into chunks, a message, a wake-up), and the
  // main thread of a remote run is mostly waiting on the network. Rows kept need the JSON.parse
  // path (each record's facts), whose CPU the threads are for.
  const streamInline = threads === 0 || (scanner !== null && !keepRows);
  // Local files are all parsed on the pool: its threads start now, loading their modules while the
  // folder is being listed, not once the first files wait for them.
  if (isLocal && threads > 0) workers();
  return {
    name: 'azure-logs',
    // Kept rows cost a few ms per file written whatever its size: larger groups, fewer files.
    ...(isLocal
      ? {
          groupLimits: keepRows
            ? { items: GROUP_ITEMS * ROWS_GROUP_FACTOR, bytes: GROUP_BYTES * ROWS_GROUP_FACTOR }
            : { items: GROUP_ITEMS, bytes: GROUP_BYTES },
        }
      : {}),
    async run(item: LeasedItem, signal: AbortSignal): Promise<Outcome> {
      const c = fromCheckpoint(item.checkpoint);
      if (c.offset > 0 || c.mark) await checkAppended(item, c, signal);
      const resume = resumeOf(c);
      const local = source.localPath?.(item.id);
      let result: PassResult;
      let mark: TailMark | undefined;
      if (local) {
        const out = (await run({ kind: 'file', path: local, resume }, signal)) as ParseOutput;
        result = toResult([out], item.id);
        mark = out.mark;
      } else {
        result = await parseStream(
          await source.open(item.id, resume.offset, signal),
          resume,
          async (job) => (await run(job, signal)) as ParseOutput,
          limits,
          (bytes, end) => {
            mark = bytes.byteLength > 0 ? markOf(bytes, end) : undefined;
          },
          item.id,
          Boolean(keepRows),
          streamInline,
        );
      }
      const files = await keep(
        { item: item.id, fence: item.fence, offset: resume.offset },
        result.rows,
        new Map([[item.id, c.rows]]),
      );
      return { ...outcome(result, resume, mark, files.get(item.id)), delta: result.delta };
    },
    ...(isLocal
      ? {
          async runGroup(items: LeasedItem[], signal: AbortSignal): Promise<GroupOutcome> {
            const failed: GroupOutcome['items'] = [];
            const files: { id: string; path: string; resume: Resume }[] = [];
            const from = new Map<string, Resume>();
            const earlier = new Map<string, string[] | undefined>();
            for (const item of items) {
              const c = fromCheckpoint(item.checkpoint);
              try {
                if (c.offset > 0 || c.mark) await checkAppended(item, c, signal);
              } catch (error) {
                failed.push({ id: item.id, error: (error as Error).message, permanent: true });
                continue;
              }
              const resume = resumeOf(c);
              from.set(item.id, resume);
              earlier.set(item.id, c.rows);
              files.push({ id: item.id, path: source.localPath?.(item.id) as string, resume });
            }
            const out = (await run({ kind: 'files', files }, signal)) as GroupOutput;
            const first = items.find((i) => from.has(i.id));
            const kept =
              out.rows && first
                ? await keep(
                    { item: first.id, fence: first.fence, offset: (from.get(first.id) as Resume).offset },
                    [{ batch: out.rows }],
                    earlier,
                  )
                : new Map<string, string[]>();
            const results: GroupOutcome['items'] = [...failed];
            for (const r of out.items) {
              if ('error' in r) {
                results.push({ id: r.id, error: r.error, permanent: PERMANENT.test(r.error) });
                continue;
              }
              const resume = from.get(r.id) as Resume;
              results.push({ id: r.id, ...outcome(r, resume, r.mark, kept.get(r.id)) });
            }
            return { delta: Delta.fromData(out.delta), items: results };
          },
        }
      : {}),
    async close() {
      await pool?.destroy();
    },
  };
}

/**
 * Cuts a byte stream at newlines into chunks, parses them (at most CHUNKS_IN_FLIGHT at once), merges.
 * What cannot be cut at newlines (the {"records": [...]} form, a line longer than the cap) is parsed
 * here as it arrives, by one streaming parser: its memory stays one piece and one record.
 */
async function parseStream(
  stream: AsyncIterable<Uint8Array>,
  resume: Resume,
  run: (job: ParseJob) => Promise<ParseOutput>,
  limits: ParseLimits,
  onTail: (lastBytes: Uint8Array, end: number) => void,
  id: string,
  keepRows: boolean,
  streamInline: boolean,
): Promise<PassResult> {
  const maxLineBytes = limits.maxLineBytes ?? MAX_LINE_BYTES;
  const outputs: Promise<ParseOutput>[] = [];
  let pieces: Buffer[] = [];
  let held = 0;
  /** Whether `pieces` hold a newline (so a chunk can be cut). */
  let newline = false;
  let offset = resume.offset;
  let first = true;
  const inlineRows = keepRows ? new RowCollector() : undefined;
  let inline: BlobParser | undefined = streamInline
    ? new BlobParser(resume, undefined, limits, inlineRows)
    : undefined;
  const nextResume = () => (first ? resume : { offset, tailMalformed: false });
  const send = async (bytes: Buffer) => {
    const chunkResume = nextResume();
    first = false;
    offset += bytes.length;
    // The mark is taken before the bytes move to a worker (a copy: they are transferred).
    outputs.push(run({ kind: 'bytes', bytes, resume: chunkResume }));
    if (outputs.length >= CHUNKS_IN_FLIGHT) await outputs[outputs.length - CHUNKS_IN_FLIGHT];
  };
  // The last bytes of the stream, whichever way they are parsed: the pass's mark (checkpoint.ts).
  let tail: Buffer = Buffer.alloc(0);
  let streamed = 0;
  for await (const chunk of stream) {
    const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    streamed += piece.length;
    tail =
      piece.length >= MARK_BYTES
        ? Buffer.from(piece.subarray(piece.length - MARK_BYTES))
        : Buffer.concat([tail, piece]).subarray(-MARK_BYTES);
    if (inline) {
      inline.push(piece);
      continue;
    }
    if (first && offset === 0 && held === 0 && startsAsWrapper(piece)) {
      inline = new BlobParser(resume, undefined, limits, inlineRows);
      inline.push(piece);
      continue;
    }
    pieces.push(piece);
    held += piece.length;
    if (!newline && piece.includes(0x0a)) newline = true;
    if (held < CHUNK_BYTES) continue;
    if (!newline) {
      if (held > maxLineBytes) {
        // A line past the cap: the rest of the blob goes through one parser that skips it unheld.
        inline = new BlobParser(nextResume(), undefined, limits, inlineRows);
        for (const p of pieces) inline.push(p);
        pieces = [];
        held = 0;
      }
      continue;
    }
    const buffer = Buffer.concat(pieces, held);
    const nl = buffer.lastIndexOf(0x0a);
    // The rest is copied out: the chunk's buffer moves to a worker.
    pieces = nl + 1 < buffer.length ? [Buffer.from(buffer.subarray(nl + 1))] : [];
    held = buffer.length - nl - 1;
    newline = false;
    await send(buffer.subarray(0, nl + 1));
  }
  if (inline) {
    const result = inline.end();
    inlineRows?.endItem(id);
    outputs.push(
      Promise.resolve({
        delta: result.delta.toData(),
        resume: result.resume,
        records: result.records,
        bytes: result.bytes,
        ...(inlineRows ? { rows: inlineRows.take() } : {}),
      }),
    );
  } else {
    await send(Buffer.concat(pieces, held));
  }
  onTail(tail, resume.offset + streamed);
  return toResult(await Promise.all(outputs), id);
}

/** Where a pass starts, from the item's checkpoint. */
function resumeOf(c: Checkpoint): Resume {
  return {
    offset: c.offset,
    tailMalformed: c.tailMalformed,
    ...(c.lines !== undefined ? { lines: c.lines } : {}),
  };
}

/**
 * Merges chunk outputs in order: deltas add, the last chunk says where the next pass resumes. The
 * first chunk's lines count from the item's resume, the others' from their own start: each adds the
 * lines before it, so rows get their line in the blob and the next pass knows where to number on.
 */
function toResult(outputs: ParseOutput[], id: string): PassResult {
  const delta = new Delta();
  let records = 0;
  let bytes = 0;
  let lines = 0;
  const rows: PassRows[] = [];
  for (const [i, o] of outputs.entries()) {
    delta.merge(Delta.fromData(o.delta));
    records += o.records;
    bytes += o.bytes;
    const base = i === 0 ? 0 : lines;
    if (o.rows && o.rows.count > 0) rows.push({ batch: ownedBy(o.rows, id), lineBase: base });
    lines = base + (o.resume.lines ?? 0);
  }
  const last = outputs.at(-1) as ParseOutput;
  return { delta, resume: { ...last.resume, lines }, records, bytes, rows };
}

/** A single item's batch (its rows gathered without an id): all its rows are the item's. */
function ownedBy(batch: RowBatchData, id: string): RowBatchData {
  return { ...batch, items: batch.count > 0 ? [{ id, from: 0, to: batch.count }] : [] };
}
