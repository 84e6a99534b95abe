// Decides which blobs exist and how many records each holds: daily and weekly rhythms per account,
// a slow growth trend, a volume scaled to a byte target, and one of each quirk forced somewhere.
import type { World } from './catalog.js';
import { Random } from './random.js';
import { MODERN_BLOBS, RATE_LIMIT, RECORD_RATES, VOLUME } from './rates.js';
import { RecordMaker } from './records.js';

export type Category = 'RequestResponse' | 'Audit' | 'AzureOpenAIRequestUsage' | 'GatewayLogs';

const CONTAINERS: Record<Category, string> = {
  RequestResponse: 'insights-logs-requestresponse',
  Audit: 'insights-logs-audit',
  AzureOpenAIRequestUsage: 'insights-logs-azureopenairequestusage',
  GatewayLogs: 'insights-logs-gatewaylogs',
};

/** A quirk a blob is made to show, so every dataset of 20+ RequestResponse blobs has each one. */
export type ForcedQuirk =
  | 'empty'
  | 'wrapperOneLine'
  | 'wrapperPretty'
  | 'bom'
  | 'crlf'
  | 'cutLastLine'
  | 'garbage'
  | 'blankLines'
  | 'lateOtherDay'
  | 'showcase';

const FORCED_ANYWHERE: ForcedQuirk[] = [
  'empty',
  'wrapperOneLine',
  'wrapperPretty',
  'bom',
  'crlf',
  'cutLastLine',
  'garbage',
  'blankLines',
];
/** Modern blobs are 100 KB or more, so never empty; a few legacy and damaged ones remain. */
const FORCED_MODERN: ForcedQuirk[] = ['wrapperOneLine', 'wrapperPretty', 'bom', 'cutLastLine', 'garbage'];
export const FORCE_FROM_BLOBS = 20;

/**
 * classic: every blob kind and quirk at the rates of older, small exports (many tiny blobs);
 * modern: big JSON-lines blobs of RequestResponse and GatewayLogs, few quirks, few legacy wrappers.
 */
export type Shape = 'classic' | 'modern';
export const SHAPES: readonly Shape[] = ['classic', 'modern'];

export interface BlobPlan {
  category: Category;
  /** Index into world.accounts; -1 for the gateway. */
  account: number;
  /** Start of the blob's hour (the `y=/m=/d=/h=` of its path), epoch ms. */
  hourMs: number;
  /** Records to write (companion rows come on top). */
  count: number;
  /** How busy the hour is (about 1 on average): busy hours get 429 bursts. */
  load: number;
  force?: ForcedQuirk;
  /** Modern shape: the blob's share of the volume, turned into `count` by modernCounts. */
  weight?: number;
}

const HOUR_MS = 3_600_000;

/** The blob's path relative to the dataset folder, as Azure names it (computed on demand: plans stay small). */
export function blobPath(plan: BlobPlan, world: World): string {
  const resourceId = world.accounts[plan.account]?.resourceId ?? world.gateway.resourceId;
  const iso = new Date(plan.hourMs).toISOString();
  const [y, m, d, h] = [iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10), iso.slice(11, 13)];
  return `${CONTAINERS[plan.category]}/resourceId=${resourceId}/y=${y}/m=${m}/d=${d}/h=${h}/m=00/PT1H.json`;
}

/** Relative volume of each account in each hour, averaging 1 over all account-hours. */
export function hourlyLoad(world: World, startMs: number, days: number): number[][] {
  const hours = days * 24;
  const load = world.accounts.map((a) =>
    Array.from({ length: hours }, (_, i) => {
      const at = new Date(startMs + i * HOUR_MS);
      const h = at.getUTCHours();
      const fromPeak = Math.min(Math.abs(h - a.peakHour), 24 - Math.abs(h - a.peakHour));
      const daily = 0.25 + 1.5 * Math.exp(-(fromPeak * fromPeak) / 18);
      const weekday = at.getUTCDay() === 0 || at.getUTCDay() === 6 ? 0.55 : 1;
      const trend = 1 + (0.3 * i) / hours;
      return a.volume * daily * weekday * trend;
    }),
  );
  const mean = load.flat().reduce((s, x) => s + x, 0) / (hours * world.accounts.length);
  return load.map((row) => row.map((x) => x / mean));
}

/** Mean UTF-8 bytes per record line (with its newline) of each category, from a sample. */
export function measureRecordBytes(world: World, startMs: number, seed: number): Record<Category, number> {
  const maker = new RecordMaker(new Random(seed, 0x7fffffff));
  const n = 400;
  const sum = { RequestResponse: 0, Audit: 0, AzureOpenAIRequestUsage: 0, GatewayLogs: 0 };
  for (let i = 0; i < n; i++) {
    const account = world.accounts[i % world.accounts.length];
    if (!account) break;
    const ms = startMs + i * 60_000;
    sum.RequestResponse += Buffer.byteLength(maker.requestResponse(account, ms, RATE_LIMIT.base)) + 1;
    sum.AzureOpenAIRequestUsage += Buffer.byteLength(maker.usage(account, ms)) + 1;
    sum.Audit += Buffer.byteLength(maker.audit(account, ms)) + 1;
    sum.GatewayLogs += Buffer.byteLength(maker.gatewayLog(world.gateway, world.accounts, ms, 0.01)) + 1;
  }
  const companion = Buffer.byteLength(maker.companion(world.accounts[0] as World['accounts'][number])) + 1;
  return {
    RequestResponse: sum.RequestResponse / n + RECORD_RATES.companion * companion,
    Audit: sum.Audit / n,
    AzureOpenAIRequestUsage: sum.AzureOpenAIRequestUsage / n,
    GatewayLogs: sum.GatewayLogs / n,
  };
}

/** Expected dataset bytes at `recordsPerHour`: RequestResponse and gateway blobs hold at least one record. */
export function expectedBytes(
  load: number[][],
  recordsPerHour: number,
  bytes: Record<Category, number>,
): number {
  const atLeastOne = (lambda: number) => lambda + Math.exp(-lambda);
  let total = 0;
  const hours = load[0]?.length ?? 0;
  for (let i = 0; i < hours; i++) {
    let sum = 0;
    for (const row of load) {
      const lambda = recordsPerHour * (row[i] as number);
      sum += row[i] as number;
      total += atLeastOne(lambda) * bytes.RequestResponse;
      total += VOLUME.usage * lambda * bytes.AzureOpenAIRequestUsage;
      total += VOLUME.auditHour * 2 * bytes.Audit;
    }
    total += atLeastOne(VOLUME.gateway * recordsPerHour * sum) * bytes.GatewayLogs;
  }
  return total;
}

/** The recordsPerHour whose expected size (by `bytesAt`, increasing) is `size` bytes, by bisection. */
export function recordsPerHourFor(size: number, bytesAt: (recordsPerHour: number) => number): number {
  let lo = 0;
  let hi = 1;
  while (bytesAt(hi) < size) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (bytesAt(mid) < size) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Every blob of the dataset in write order (hour by hour), with its record count drawn. */
export function planBlobs(
  world: World,
  load: number[][],
  startMs: number,
  recordsPerHour: number,
  rnd: Random,
): BlobPlan[] {
  const plans: BlobPlan[] = [];
  const hours = load[0]?.length ?? 0;
  for (let i = 0; i < hours; i++) {
    const hourMs = startMs + i * HOUR_MS;
    let sum = 0;
    world.accounts.forEach((account, a) => {
      const l = load[a]?.[i] as number;
      sum += l;
      const lambda = recordsPerHour * l;
      plans.push({
        category: 'RequestResponse',
        account: a,
        hourMs,
        count: Math.max(1, rnd.poisson(lambda)),
        load: l / account.volume,
      });
      const usage = rnd.poisson(VOLUME.usage * lambda);
      if (usage > 0) {
        plans.push({
          category: 'AzureOpenAIRequestUsage',
          account: a,
          hourMs,
          count: usage,
          load: 1,
        });
      }
      if (rnd.chance(VOLUME.auditHour)) {
        plans.push({
          category: 'Audit',
          account: a,
          hourMs,
          count: rnd.range(1, 3),
          load: 1,
        });
      }
    });
    plans.push({
      category: 'GatewayLogs',
      account: -1,
      hourMs,
      count: Math.max(1, rnd.poisson(VOLUME.gateway * recordsPerHour * sum)),
      load: sum / world.accounts.reduce((s, a) => s + a.volume, 0),
    });
  }
  forceQuirks(plans, rnd, FORCED_ANYWHERE);
  return plans;
}

/**
 * The modern shape's blobs in write order: one RequestResponse blob per account-hour and one
 * GatewayLogs blob per hour, each weighted by the square root of its load (a busy hour writes a
 * bigger blob, but within the 100 KB - 800 KB most real blobs span) times lognormal noise, and a
 * few several times bigger. Counts are set afterwards by modernCounts.
 */
export function planModernBlobs(world: World, load: number[][], startMs: number, rnd: Random): BlobPlan[] {
  const plans: BlobPlan[] = [];
  const hours = load[0]?.length ?? 0;
  const weight = (l: number) =>
    Math.sqrt(l) *
    Math.exp(MODERN_BLOBS.sigma * rnd.normal()) *
    (rnd.chance(MODERN_BLOBS.bigShare) ? 3 + 7 * rnd.next() : 1);
  for (let i = 0; i < hours; i++) {
    const hourMs = startMs + i * HOUR_MS;
    let sum = 0;
    world.accounts.forEach((account, a) => {
      const l = load[a]?.[i] as number;
      sum += l;
      plans.push({
        category: 'RequestResponse',
        account: a,
        hourMs,
        count: 0,
        load: l / account.volume,
        weight: weight(l),
      });
    });
    const share = sum / world.accounts.reduce((s, a) => s + a.volume, 0);
    plans.push({
      category: 'GatewayLogs',
      account: -1,
      hourMs,
      count: 0,
      load: share,
      weight: VOLUME.gateway * world.accounts.length * weight(share),
    });
  }
  forceQuirks(plans, rnd, FORCED_MODERN);
  return plans;
}

/** Records in a modern blob of `weight` at `recordsPerHour`, kept within the shape's blob sizes. */
function modernCount(weight: number, recordsPerHour: number, recordBytes: number): number {
  const least = Math.ceil(MODERN_BLOBS.minBytes / recordBytes);
  const most = Math.floor(MODERN_BLOBS.maxBytes / recordBytes);
  return Math.min(most, Math.max(least, Math.round(recordsPerHour * weight)));
}

/** Expected bytes of the modern plans at `recordsPerHour`. */
export function modernBytes(
  plans: BlobPlan[],
  recordsPerHour: number,
  bytes: Record<Category, number>,
): number {
  let total = 0;
  for (const p of plans) {
    total += modernCount(p.weight ?? 1, recordsPerHour, bytes[p.category]) * bytes[p.category];
  }
  return total;
}

/** Sets each modern plan's record count. */
export function modernCounts(
  plans: BlobPlan[],
  recordsPerHour: number,
  bytes: Record<Category, number>,
): void {
  for (const p of plans) p.count = modernCount(p.weight ?? 1, recordsPerHour, bytes[p.category]);
}

/** Gives distinct RequestResponse blobs one forced quirk each, so tests never depend on luck. */
function forceQuirks(plans: BlobPlan[], rnd: Random, forced: ForcedQuirk[]): void {
  const rr = plans.filter((p) => p.category === 'RequestResponse');
  if (rr.length === 0) return;
  const free = [...rr];
  const take = (candidates: BlobPlan[], quirk: ForcedQuirk) => {
    if (candidates.length === 0) return;
    const plan = rnd.pick(candidates);
    plan.force = quirk;
    free.splice(free.indexOf(plan), 1);
  };
  take(free, 'showcase');
  if (rr.length < FORCE_FROM_BLOBS) return;
  for (const quirk of forced) take(free, quirk);
  // A record stamped before midnight in a blob of the first hour: the data then starts the day
  // before the range does, which only a reader dating records by their own time gets right.
  const firstHour = rr[0]?.hourMs;
  take(
    free.filter((p) => p.hourMs === firstHour),
    'lateOtherDay',
  );
}
