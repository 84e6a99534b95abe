// `sluice synth`: writes a synthetic Azure Monitor log dataset laid out exactly as Azure lays it
// out in a storage account, quirks included, and `truth.json`, the report sluice must reproduce.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { BlobFile, indentJson } from './blob-file.js';
import { type Account, buildWorld, type World } from './catalog.js';
import {
  type BlobPlan,
  blobPath,
  expectedBytes,
  hourlyLoad,
  measureRecordBytes,
  modernBytes,
  modernCounts,
  planBlobs,
  planModernBlobs,
  recordsPerHourFor,
  SHAPES,
  type Shape,
} from './plan.js';
import { Random } from './random.js';
import { BLOB_RATES, MODERN_BLOB_RATES, RATE_LIMIT, RECORD_RATES } from './rates.js';
import { type CallQuirks, cutRecord, GARBAGE_KINDS, RecordMaker } from './records.js';
import { Truth } from './truth.js';

export interface SynthOptions {
  /** Folder to write into; created if missing, refused if not empty (old blobs would spoil the truth). */
  dir: string;
  /** PRNG seed: the same options and seed give a byte-identical dataset. Default 1. */
  seed?: number;
  /**
   * First day (UTC), YYYY-MM-DD. Default '2024-06-01' (classic: a month without model fields, then
   * a month with) or '2025-06-01' (modern: every call carries its model).
   */
  start?: string;
  /** Days of hourly blobs. Default 60. */
  days?: number;
  /** Azure OpenAI accounts (one API Management service fronts them all). Default 3. */
  resources?: number;
  /** Mean RequestResponse records per account-hour. Default 50. Ignored when `size` is given. */
  recordsPerHour?: number;
  /** Approximate total bytes to write; recordsPerHour is derived from it. */
  size?: number;
  /** Which exports to imitate (see Shape). Default 'classic'. */
  shape?: Shape;
}

export interface SynthSummary {
  dir: string;
  /** Blobs written, empty ones included. */
  blobs: number;
  /** Records written (what truth.json counts as `records`). */
  records: number;
  /** Bytes of all blobs (truth.json not included). */
  bytes: number;
  truthPath: string;
}

export interface SynthProgress {
  blobs: number;
  bytes: number;
  totalBlobs: number;
}

const DAY_MS = 86_400_000;
const IN_FLIGHT = 16;
const MAX_ACCOUNT_HOURS = 500_000;
const HOUR_MS = 3_600_000;
const MODERN_START = '2025-06-01';
const DEFAULTS = { seed: 1, start: '2024-06-01', days: 60, resources: 3, recordsPerHour: 50 };

interface Resolved {
  dir: string;
  seed: number;
  start: string;
  startMs: number;
  days: number;
  resources: number;
  recordsPerHour?: number;
  size?: number;
  shape: Shape;
}

function resolveOptions(options: SynthOptions): Resolved {
  const shape = options.shape ?? 'classic';
  if (!SHAPES.includes(shape)) {
    throw new UsageError(`synth: shape must be one of ${SHAPES.join(', ')}, not ${shape}`);
  }
  const start = options.start ?? (shape === 'modern' ? MODERN_START : DEFAULTS.start);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(start);
  const startMs = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || new Date(startMs).toISOString().slice(0, 10) !== start) {
    throw new UsageError(`synth: start ${JSON.stringify(start)} is not a date: use YYYY-MM-DD`);
  }
  const days = options.days ?? DEFAULTS.days;
  if (!Number.isInteger(days) || days < 1 || days > 3660) {
    throw new UsageError(`synth: days must be a whole number from 1 to 3660, not ${days}`);
  }
  const resources = options.resources ?? DEFAULTS.resources;
  if (!Number.isInteger(resources) || resources < 1) {
    throw new UsageError(`synth: resources must be a whole number of 1 or more, not ${resources}`);
  }
  // The blob plan is held in memory (a few dozen bytes per blob); this keeps it under ~100 MB.
  if (days * resources * 24 > MAX_ACCOUNT_HOURS) {
    throw new UsageError(
      `synth: ${days} days of ${resources} accounts is ${days * resources * 24} account-hours; ` +
        `the most is ${MAX_ACCOUNT_HOURS}: ask for fewer days or accounts (and more records per hour)`,
    );
  }
  const seed = options.seed ?? DEFAULTS.seed;
  if (!Number.isInteger(seed)) throw new UsageError(`synth: seed must be a whole number, not ${seed}`);
  const { recordsPerHour, size } = options;
  if (recordsPerHour !== undefined && !(Number.isFinite(recordsPerHour) && recordsPerHour >= 0)) {
    throw new UsageError(`synth: recordsPerHour must be 0 or more, not ${recordsPerHour}`);
  }
  if (size !== undefined && !(Number.isFinite(size) && size > 0)) {
    throw new UsageError(`synth: size must be a positive number of bytes, not ${size}`);
  }
  return { dir: options.dir, seed, start, startMs, days, resources, recordsPerHour, size, shape };
}

async function ensureEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new UsageError(`synth: ${dir} is not empty: choose a new folder, or delete this one first`);
  }
}

/** Per-blob state: the blob's own PRNG stream, so each blob depends only on the seed and its place. */
interface BlobContext {
  plan: BlobPlan;
  rnd: Random;
  maker: RecordMaker;
  truth: Truth;
  world: World;
  account: Account | undefined;
  p429: number;
  rates: Record<keyof typeof BLOB_RATES, number>;
}

/** Chance that an hour has a 429 burst: none in quiet hours, up to 50 % at the peak. */
function burstChance(load: number): number {
  return Math.min(0.5, Math.max(0, (load - 1.2) * 0.6));
}

/** Renders the blob's record `i` of `n`; `late` stamps it up to 2 h before the blob's hour. */
function render(ctx: BlobContext, i: number, n: number, late: boolean, force?: CallQuirks): string {
  const { plan, rnd, maker, account, world } = ctx;
  const ms = late
    ? plan.hourMs - 1 - rnd.int(2 * HOUR_MS)
    : plan.hourMs + Math.floor((HOUR_MS * (i + rnd.next())) / Math.max(n, 1));
  switch (plan.category) {
    case 'RequestResponse':
      return maker.requestResponse(account as Account, ms, ctx.p429, force);
    case 'AzureOpenAIRequestUsage':
      return maker.usage(account as Account, ms);
    case 'Audit':
      return maker.audit(account as Account, ms);
    case 'GatewayLogs':
      return maker.gatewayLog(world.gateway, world.accounts, ms, ctx.p429);
  }
}

/** The extra calls of the showcase blob: one of each record quirk, whatever the dataset's size. */
const SHOWCASE: CallQuirks[] = [
  { propertiesAsString: true },
  { numericSignature: true },
  { duration: 'negative' },
  { duration: 'missing' },
  { assistants: true },
  { status: 429 },
  { status: 400 },
  { status: 503 },
];

/**
 * Emits the blob's calls through `emit` (one line per record), counting each in the truth:
 * companion rows follow their call, late arrivals sit among on-time records as appends do.
 */
async function emitCalls(ctx: BlobContext, emit: (line: string) => void, file: BlobFile): Promise<void> {
  const { plan, rnd, maker, truth } = ctx;
  const canBeLate = plan.category === 'RequestResponse' || plan.category === 'GatewayLogs';
  const record = (line: string, late: boolean) => {
    truth.record(maker.facts); // before emit: emit may render junk lines, which reuse the maker
    emit(line);
    if (late) {
      truth.quirks.lateRecords += 1;
      if (maker.facts.time.slice(0, 10) !== new Date(plan.hourMs).toISOString().slice(0, 10)) {
        truth.quirks.lateRecordsOtherDay += 1;
      }
    }
  };
  const call = (i: number, n: number, late: boolean, force?: CallQuirks, companion?: boolean) => {
    record(render(ctx, i, n, late, force), late);
    if (plan.category === 'RequestResponse' && (companion ?? rnd.chance(RECORD_RATES.companion))) {
      record(maker.companion(ctx.account as Account), late);
      truth.quirks.companionRecords += 1;
    }
  };
  if (plan.force === 'showcase') {
    SHOWCASE.forEach((force, i) => {
      call(i, SHOWCASE.length, false, force, i === 0);
    });
    call(0, 1, true);
  }
  const n = plan.count;
  for (let i = 0; i < n; i++) {
    const late =
      (i === 0 && plan.force === 'lateOtherDay') || (canBeLate && rnd.chance(RECORD_RATES.lateArrival));
    call(i, n, late);
    if (file.full) await file.flush();
  }
}

async function writeJsonLines(ctx: BlobContext, file: BlobFile): Promise<void> {
  const { plan, rnd, maker, truth, rates } = ctx;
  const force = plan.force;
  const bom = force === 'bom' || rnd.chance(rates.bom);
  const crlf = force === 'crlf' || rnd.chance(rates.crlf);
  const garbage = force === 'garbage' || rnd.chance(rates.garbage);
  const cut = force === 'cutLastLine' || rnd.chance(rates.cutLastLine);
  const blanks = force === 'blankLines' || rnd.chance(rates.blankLines);
  const eol = crlf ? '\r\n' : '\n';
  if (bom) {
    file.text('\uFEFF');
    truth.quirks.bomBlobs += 1;
  }
  if (crlf) truth.quirks.crlfBlobs += 1;

  // Lines are written through `emit`; junk and blank lines go in before the record whose index
  // they carry (never before the first record, so a BOM is always followed by a record).
  const n = plan.count;
  // The forced garbage blob gets one line of every kind; others get one line of a random kind.
  const junkAt = new Map<number, number[]>();
  if (garbage) {
    const kinds = force === 'garbage' ? [...Array(GARBAGE_KINDS).keys()] : [rnd.int(GARBAGE_KINDS)];
    for (const kind of kinds) {
      const at = rnd.range(1, n);
      junkAt.set(at, [...(junkAt.get(at) ?? []), kind]);
    }
  }
  const blankAt = new Map<number, number>();
  if (blanks) {
    for (let k = rnd.range(1, 3); k > 0; k--) {
      const at = rnd.range(1, n);
      blankAt.set(at, (blankAt.get(at) ?? 0) + 1);
    }
  }
  let index = 0;
  const extras = () => {
    for (const kind of junkAt.get(index) ?? []) {
      const junk = maker.garbage(kind, ctx.account ?? (ctx.world.accounts[0] as Account), plan.hourMs);
      if (typeof junk === 'string') file.text(junk + eol);
      else file.raw(Buffer.concat([junk, Buffer.from(eol)]));
      truth.malformed();
      truth.quirks.garbageLines += 1;
    }
    const blank = blankAt.get(index) ?? 0;
    for (let k = 0; k < blank; k++) file.text(eol);
    truth.quirks.blankLines += blank;
  };
  await emitCalls(
    ctx,
    (line) => {
      extras();
      file.text(line + eol);
      index += 1;
    },
    file,
  );
  extras();
  if (cut) {
    const line = render(ctx, n, n + 1, false);
    file.raw(cutRecord(rnd, line));
    truth.malformed();
    truth.quirks.cutLastLines += 1;
  }
}

async function writeWrapper(ctx: BlobContext, file: BlobFile, pretty: boolean): Promise<void> {
  let first = true;
  file.text(pretty ? '{\n  "records": [\n' : '{"records":[');
  await emitCalls(
    ctx,
    (line) => {
      const sep = first ? '' : pretty ? ',\n' : ',';
      file.text(pretty ? `${sep}    ${indentJson(line, 2)}` : sep + line);
      first = false;
    },
    file,
  );
  file.text(pretty ? '\n  ]\n}' : ']}');
  ctx.truth.quirks.wrapperBlobs += 1;
  if (pretty) ctx.truth.quirks.prettyWrapperBlobs += 1;
}

async function writeBlob(ctx: BlobContext, path: string): Promise<number> {
  const { plan, rnd, truth, rates } = ctx;
  const file = new BlobFile(path);
  try {
    const force = plan.force;
    const free = force === undefined || force === 'showcase';
    ctx.p429 = rnd.chance(burstChance(plan.load))
      ? RATE_LIMIT.burstMin + rnd.next() * (RATE_LIMIT.burstMax - RATE_LIMIT.burstMin)
      : RATE_LIMIT.base;
    const wrapper =
      force === 'wrapperOneLine' || force === 'wrapperPretty'
        ? force
        : free && plan.category === 'RequestResponse' && rnd.chance(rates.wrapper)
          ? rnd.pick(['wrapperOneLine', 'wrapperPretty'] as const)
          : undefined;
    if (force === 'empty' || (force === undefined && rnd.chance(rates.empty))) {
      truth.quirks.emptyBlobs += 1;
    } else if (wrapper) {
      await writeWrapper(ctx, file, wrapper === 'wrapperPretty');
    } else {
      await writeJsonLines(ctx, file);
    }
    truth.blob();
  } finally {
    await file.close();
  }
  return file.bytes;
}

function tooSmall(o: Resolved, size: number, what: string, least: number): UsageError {
  return new UsageError(
    `synth: size ${size} is too small for ${o.days} days of ${o.resources} accounts: ` +
      `${what} already makes about ${Math.round(least)} bytes; ask for fewer days or accounts`,
  );
}

/** The modern shape's recordsPerHour for `size` bytes; refused when its blob sizes cannot reach it. */
function modernRecordsPerHour(
  o: Resolved,
  plans: BlobPlan[],
  recordBytes: ReturnType<typeof measureRecordBytes>,
  size: number,
): number {
  const least = modernBytes(plans, 0, recordBytes);
  if (size < least * 0.7) throw tooSmall(o, size, 'the smallest modern blob in every hour', least);
  const most = modernBytes(plans, Number.POSITIVE_INFINITY, recordBytes);
  if (size > most) {
    throw new UsageError(
      `synth: size ${size} is too large for ${o.days} days of modern blobs (at most about ${Math.round(most)} bytes): ask for more days or accounts`,
    );
  }
  return recordsPerHourFor(size, (r) => modernBytes(plans, r, recordBytes));
}

export async function synthesize(
  options: SynthOptions,
  onProgress?: (p: SynthProgress) => void,
): Promise<SynthSummary> {
  const o = resolveOptions(options);
  await ensureEmptyDir(o.dir);
  const rnd = new Random(o.seed, 0);
  // gpt4o-chat is upgraded in place at 09:00 two thirds into the range, so both versions show.
  const upgradeAt = o.startMs + Math.floor((o.days * 2) / 3) * DAY_MS + 9 * HOUR_MS;
  const world = buildWorld(rnd, o.resources, upgradeAt);
  const load = hourlyLoad(world, o.startMs, o.days);
  const recordBytes = measureRecordBytes(world, o.startMs, o.seed);
  let recordsPerHour = o.recordsPerHour ?? DEFAULTS.recordsPerHour;
  let plans: BlobPlan[];
  if (o.shape === 'modern') {
    plans = planModernBlobs(world, load, o.startMs, rnd);
    if (o.size !== undefined) recordsPerHour = modernRecordsPerHour(o, plans, recordBytes, o.size);
    modernCounts(plans, recordsPerHour, recordBytes);
  } else {
    if (o.size !== undefined) {
      const least = expectedBytes(load, 0, recordBytes);
      if (o.size < least * 0.7) throw tooSmall(o, o.size, 'one record per blob', least);
      recordsPerHour = recordsPerHourFor(o.size, (r) => expectedBytes(load, r, recordBytes));
    }
    plans = planBlobs(world, load, o.startMs, recordsPerHour, rnd);
  }
  const rates = o.shape === 'modern' ? MODERN_BLOB_RATES : BLOB_RATES;
  const truth = new Truth();
  let bytes = 0;
  let written = 0;
  // Blobs are generated one after another but written IN_FLIGHT at a time, so the disk works
  // while the next blob is generated; each blob has its own PRNG, so the output is the same.
  const inFlight: Promise<void>[] = [];
  let failure: unknown;
  for (let i = 0; i < plans.length && failure === undefined; i++) {
    const plan = plans[i] as BlobPlan;
    const blobRnd = new Random(o.seed, i + 1);
    const ctx: BlobContext = {
      plan,
      rnd: blobRnd,
      maker: new RecordMaker(blobRnd),
      truth,
      world,
      account: world.accounts[plan.account],
      p429: RATE_LIMIT.base,
      rates,
    };
    const blob = writeBlob(ctx, join(o.dir, blobPath(plan, world))).then(
      (n) => {
        bytes += n;
        written += 1;
        onProgress?.({ blobs: written, bytes, totalBlobs: plans.length });
      },
      (error: unknown) => {
        failure ??= error;
      },
    );
    inFlight.push(blob);
    if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  const truthPath = join(o.dir, 'truth.json');
  const about = {
    generator: 'sluice synth',
    options: {
      seed: o.seed,
      start: o.start,
      days: o.days,
      resources: o.resources,
      recordsPerHour: Math.round(recordsPerHour * 1000) / 1000,
      size: o.size ?? null,
      // Only when not the default, so that classic truths stay byte for byte what they were.
      ...(o.shape === 'classic' ? {} : { shape: o.shape }),
    },
    bytes,
    rules:
      'Counted while generating, not by parsing. A record is a JSON object on its own line or an element of a ' +
      '{"records":[...]} wrapper; blank lines count nothing; any other line (junk, non-object JSON, a cut last ' +
      'line) is one malformed line. Status: properties.responseCode for GatewayLogs, resultSignature (string or ' +
      'number) otherwise; properties written as a JSON string are read as the object they encode. Day and time ' +
      "range come from each record's own time. Latency: records with a status and durationMs >= 0; " +
      'percentiles are exact lower nearest-rank, sorted[floor(q*(count-1))].',
  };
  await writeFile(truthPath, `${JSON.stringify(truth.toJSON(about), null, 2)}\n`);
  return { dir: o.dir, blobs: plans.length, records: truth.records, bytes, truthPath };
}
