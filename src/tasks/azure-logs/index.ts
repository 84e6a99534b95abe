// The azure-logs task: parses PT1H.json blobs on a pool of worker threads. Local files are read by
// the workers themselves; remote bytes are cut at newlines into chunks that parse independently
// (their deltas add up to the blob's) and are transferred, not copied, to the workers.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { Delta } from '../../aggregate/delta.js';
import type { FileInput, GroupResult, Resume, Task, TaskInput, TaskResult } from '../types.js';
import { BlobParser, MAX_LINE_BYTES, type ParseLimits, startsAsWrapper } from './parse.js';
import parseJob, { type GroupOutput, type ParseJob, type ParseOutput } from './worker.js';

/** Bytes per chunk sent to a worker. */
const CHUNK_BYTES = 4 << 20;
/** Remote chunks smaller than this are parsed on the main thread. */
const INLINE_BYTES = 256 << 10;
/** Chunks of one item parsed at once: bounds an item's memory whatever the blob's size. */
const CHUNKS_IN_FLIGHT = 2;

export interface AzureLogsOptions {
  /** Worker threads; 0 parses on the main thread. Default: the machine's cores. */
  threads?: number;
  /** Longest line or record parsed, in bytes (default MAX_LINE_BYTES); a longer one is malformed. */
  maxLineBytes?: number;
}

export function createAzureLogsTask(options: AzureLogsOptions = {}): Task {
  const threads = options.threads ?? availableParallelism();
  const limits: ParseLimits = { maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES };
  // Started on first use: a run of small remote blobs never needs it (and never pays its memory).
  let pool: Piscina<ParseJob, ParseOutput | GroupOutput> | undefined;
  const workers = () => {
    pool ??= new Piscina<ParseJob, ParseOutput | GroupOutput>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      // Jobs are synchronous, so a worker runs them one at a time anyway; queueing a few at
      // each worker spares it the round trip through the main thread between two jobs.
      concurrentTasksPerWorker: 4,
      idleTimeout: 60_000,
    });
    return pool;
  };

  const run = async (unlimited: ParseJob, signal: AbortSignal): Promise<ParseOutput | GroupOutput> => {
    const job = { ...unlimited, limits };
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

  return {
    name: 'azure-logs',
    async process(input: TaskInput): Promise<TaskResult> {
      const { source, id, resume, signal } = input;
      const local = source.localPath?.(id);
      if (local) return toResult([(await run({ kind: 'file', path: local, resume }, signal)) as ParseOutput]);
      return parseStream(
        await source.open(id, resume.offset, signal),
        resume,
        async (job) => (await run(job, signal)) as ParseOutput,
        limits,
      );
    },
    async processFiles(files: FileInput[], signal: AbortSignal): Promise<GroupResult> {
      const out = (await run({ kind: 'files', files }, signal)) as GroupOutput;
      return { delta: Delta.fromData(out.delta), items: out.items };
    },
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
): Promise<TaskResult> {
  const maxLineBytes = limits.maxLineBytes ?? MAX_LINE_BYTES;
  const outputs: Promise<ParseOutput>[] = [];
  let pieces: Buffer[] = [];
  let held = 0;
  /** Whether `pieces` hold a newline (so a chunk can be cut). */
  let newline = false;
  let offset = resume.offset;
  let first = true;
  let inline: BlobParser | undefined;
  const nextResume = () => (first ? resume : { offset, tailMalformed: false });
  const send = async (bytes: Buffer) => {
    const chunkResume = nextResume();
    first = false;
    offset += bytes.length;
    outputs.push(run({ kind: 'bytes', bytes, resume: chunkResume }));
    if (outputs.length >= CHUNKS_IN_FLIGHT) await outputs[outputs.length - CHUNKS_IN_FLIGHT];
  };
  for await (const chunk of stream) {
    const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (inline) {
      inline.push(piece);
      continue;
    }
    if (first && offset === 0 && held === 0 && startsAsWrapper(piece)) {
      inline = new BlobParser(resume, undefined, limits);
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
        inline = new BlobParser(nextResume(), undefined, limits);
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
    outputs.push(
      Promise.resolve({
        delta: result.delta.toData(),
        resume: result.resume,
        records: result.records,
        bytes: result.bytes,
      }),
    );
  } else {
    await send(Buffer.concat(pieces, held));
  }
  return toResult(await Promise.all(outputs));
}

/** Merges chunk outputs in order: deltas add, the last chunk says where the next pass resumes. */
function toResult(outputs: ParseOutput[]): TaskResult {
  const delta = new Delta();
  let records = 0;
  let bytes = 0;
  for (const o of outputs) {
    delta.merge(Delta.fromData(o.delta));
    records += o.records;
    bytes += o.bytes;
  }
  const last = outputs.at(-1) as ParseOutput;
  return { delta, resume: last.resume, records, bytes };
}
