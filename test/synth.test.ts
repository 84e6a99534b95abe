// The synthetic dataset generator: Azure's layout, every quirk present, deterministic, sized
// as asked, and a truth.json that matches the bytes on disk (re-read here by a naive reader).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../src/errors.js';
import { compareReports } from '../src/report/compare.js';
import { type SynthSummary, synthesize } from '../src/synth/generate.js';
import type { QuirkCounts } from '../src/synth/truth.js';
import { sluice } from './support/cli.js';

const SMALL = { seed: 7, start: '2024-06-30', days: 2, resources: 3, recordsPerHour: 12 };

const PATH_RE =
  /^insights-logs-(requestresponse|audit|azureopenairequestusage)\/resourceId=\/SUBSCRIPTIONS\/[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\/RESOURCEGROUPS\/[A-Z0-9-]+\/PROVIDERS\/MICROSOFT\.COGNITIVESERVICES\/ACCOUNTS\/[A-Z0-9-]+\/y=\d{4}\/m=\d{2}\/d=\d{2}\/h=\d{2}\/m=00\/PT1H\.json$|^insights-logs-gatewaylogs\/resourceId=\/SUBSCRIPTIONS\/[0-9A-F-]{36}\/RESOURCEGROUPS\/[A-Z0-9-]+\/PROVIDERS\/MICROSOFT\.APIMANAGEMENT\/SERVICE\/[A-Z0-9-]+\/y=\d{4}\/m=\d{2}\/d=\d{2}\/h=\d{2}\/m=00\/PT1H\.json$/;

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-synth-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

async function hashTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await listFiles(dir)) {
    hash
      .update(file)
      .update('\0')
      .update(await readFile(join(dir, file)))
      .update('\0');
  }
  return hash.digest('hex');
}

async function generate(
  name: string,
  options: Partial<typeof SMALL> & { size?: number; shape?: 'classic' | 'modern' } = SMALL,
) {
  const dir = join(root, name);
  const summary = await synthesize({ dir, ...options });
  const truth = JSON.parse(await readFile(summary.truthPath, 'utf8')) as TruthJson;
  return { dir, summary, truth };
}

// ---- A deliberately naive reader: sluice's rules, written the obvious way, for checking the truth. ----

type Json = Record<string, unknown>;

function classify(status: number | null): string {
  if (status === null) return 'noStatus';
  if (status >= 200 && status <= 299) return 'success';
  if (status === 429) return 'rateLimited';
  if (status >= 400 && status <= 499) return 'clientError';
  if (status >= 500 && status <= 599) return 'serverError';
  return 'noStatus';
}

function recordsOf(bytes: Buffer): { records: Json[]; malformed: number } {
  let text = bytes.toString('utf8');
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (text.trimStart().startsWith('{"records"') || text.trimStart().startsWith('{\n  "records"')) {
    return { records: (JSON.parse(text) as { records: Json[] }).records, malformed: 0 };
  }
  const records: Json[] = [];
  let malformed = 0;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) records.push(value as Json);
      else malformed += 1;
    } catch {
      malformed += 1;
    }
  }
  return { records, malformed };
}

function percentile(sorted: number[], q: number): number | null {
  return sorted.length === 0 ? null : (sorted[Math.floor(q * (sorted.length - 1))] as number);
}

async function reread(dir: string) {
  const files = (await listFiles(dir)).filter((f) => f.endsWith('PT1H.json'));
  const classes = { success: 0, rateLimited: 0, clientError: 0, serverError: 0, noStatus: 0 };
  const codes: Record<string, number> = {};
  const latencies: number[] = [];
  const models = new Map<
    string,
    { model: unknown; version: unknown; n: Record<string, number>; lat: number[] }
  >();
  const days = new Map<string, Record<string, number>>();
  let records = 0;
  let malformed = 0;
  let first: string | undefined;
  let last: string | undefined;
  for (const file of files) {
    const blob = recordsOf(await readFile(join(dir, file)));
    malformed += blob.malformed;
    for (const r of blob.records) {
      records += 1;
      const props = (
        typeof r.properties === 'string' ? JSON.parse(r.properties) : (r.properties ?? {})
      ) as Json;
      const raw = r.category === 'GatewayLogs' ? props.responseCode : r.resultSignature;
      const status = raw === undefined || raw === null ? null : Number(raw);
      const cls = classify(status);
      classes[cls as keyof typeof classes] += 1;
      if (status !== null) codes[String(status)] = (codes[String(status)] ?? 0) + 1;
      const key = JSON.stringify([props.modelName ?? null, props.modelVersion ?? null]);
      let group = models.get(key);
      if (!group) {
        group = { model: props.modelName ?? null, version: props.modelVersion ?? null, n: {}, lat: [] };
        models.set(key, group);
      }
      group.n.records = (group.n.records ?? 0) + 1;
      group.n[cls] = (group.n[cls] ?? 0) + 1;
      const duration = r.durationMs;
      if (cls !== 'noStatus' && typeof duration === 'number' && duration >= 0) {
        latencies.push(duration);
        group.lat.push(duration);
      }
      const time = r.time as string;
      const day = days.get(time.slice(0, 10)) ?? { records: 0 };
      day.records = (day.records ?? 0) + 1;
      day[cls] = (day[cls] ?? 0) + 1;
      days.set(time.slice(0, 10), day);
      // All times have the same fixed-width form, so text order is instant order.
      if (first === undefined || time < first) first = time;
      if (last === undefined || time > last) last = time;
    }
  }
  const byNumber = (a: number, b: number) => a - b;
  latencies.sort(byNumber);
  return {
    items: files.length,
    records,
    malformedLines: malformed,
    statusClasses: classes,
    statusCodes: codes,
    timeRange: { first, last },
    latencyMs: {
      count: latencies.length,
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      p99: percentile(latencies, 0.99),
      max: latencies.length ? latencies[latencies.length - 1] : null,
    },
    byModel: [...models.values()].map((g) => {
      g.lat.sort(byNumber);
      return {
        model: g.model,
        version: g.version,
        records: g.n.records,
        success: g.n.success ?? 0,
        rateLimited: g.n.rateLimited ?? 0,
        clientError: g.n.clientError ?? 0,
        serverError: g.n.serverError ?? 0,
        latencyMs: {
          p50: percentile(g.lat, 0.5),
          p95: percentile(g.lat, 0.95),
          p99: percentile(g.lat, 0.99),
        },
      };
    }),
    byDay: [...days].map(([day, n]) => ({
      day,
      records: n.records,
      success: n.success ?? 0,
      rateLimited: n.rateLimited ?? 0,
      clientError: n.clientError ?? 0,
      serverError: n.serverError ?? 0,
      noStatus: n.noStatus ?? 0,
    })),
  };
}

const byKey = (a: { model: unknown; version: unknown }) => JSON.stringify([a.model, a.version]);

/** The parts of truth.json these tests read. */
interface TruthJson {
  items: { total: number; done: number; failed: number; pending: number };
  records: number;
  malformedLines: number;
  statusClasses: Record<'success' | 'rateLimited' | 'clientError' | 'serverError' | 'noStatus', number>;
  statusCodes: Record<string, number>;
  timeRange: { first: string; last: string };
  latencyMs: { count: number; p50: number; p95: number; p99: number; max: number };
  byModel: { model: string | null; version: string | null; records: number }[];
  byDay: { day: string; records: number }[];
  _about: { quirks: QuirkCounts };
}

describe('synthesize', () => {
  let small: { dir: string; summary: SynthSummary; truth: TruthJson };

  before(async () => {
    small = await generate('small');
  });

  it('lays blobs out exactly as Azure does, one per resource-hour of RequestResponse and gateway logs', async () => {
    const files = (await listFiles(small.dir)).filter((f) => f !== 'truth.json');
    assert.equal(files.length, small.summary.blobs);
    for (const file of files) assert.match(file, PATH_RE);
    const hours = SMALL.days * 24;
    const rr = files.filter((f) => f.startsWith('insights-logs-requestresponse/'));
    const gateway = files.filter((f) => f.startsWith('insights-logs-gatewaylogs/'));
    assert.equal(rr.length, hours * SMALL.resources);
    assert.equal(gateway.length, hours);
    assert.ok(files.some((f) => f.startsWith('insights-logs-audit/')));
    assert.ok(files.some((f) => f.startsWith('insights-logs-azureopenairequestusage/')));
    assert.ok(rr.some((f) => f.includes('/y=2024/m=07/d=01/h=23/m=00/PT1H.json')));
  });

  it('writes truth.json that a naive re-read of the blobs agrees with, key by key', async () => {
    const seen = await reread(small.dir);
    const t = small.truth;
    assert.deepEqual(t.items, { total: seen.items, done: seen.items, failed: 0, pending: 0 });
    assert.equal(t.records, seen.records);
    assert.equal(t.records, small.summary.records);
    assert.equal(t.malformedLines, seen.malformedLines);
    assert.deepEqual(t.statusClasses, seen.statusClasses);
    assert.deepEqual(t.statusCodes, seen.statusCodes);
    assert.deepEqual(t.timeRange, seen.timeRange);
    assert.deepEqual(t.latencyMs, seen.latencyMs);
    const sortModels = (m: { model: unknown; version: unknown }[]) =>
      [...m].sort((a, b) => (byKey(a) < byKey(b) ? -1 : 1));
    assert.deepEqual(sortModels(t.byModel), sortModels(seen.byModel));
    assert.deepEqual(
      t.byDay,
      [...seen.byDay].sort((a, b) => (a.day < b.day ? -1 : 1)),
    );
  });

  it('keeps the truth internally consistent', () => {
    const t = small.truth;
    const classes = Object.values(t.statusClasses);
    assert.equal(
      classes.reduce((s, n) => s + n, 0),
      t.records,
    );
    const sum = (rows: { records: number }[]) => rows.reduce((s, r) => s + r.records, 0);
    assert.equal(sum(t.byDay), t.records);
    assert.equal(sum(t.byModel), t.records);
    const withStatus = t.records - t.statusClasses.noStatus;
    const codes = Object.values(t.statusCodes);
    assert.equal(
      codes.reduce((s, n) => s + n, 0),
      withStatus,
    );
    assert.ok(t.latencyMs.count <= withStatus);
    assert.ok(t.latencyMs.p50 <= t.latencyMs.p95 && t.latencyMs.p95 <= t.latencyMs.p99);
    assert.ok(t.latencyMs.p99 <= t.latencyMs.max);
    const records = t.byModel.map((m) => m.records);
    assert.deepEqual(
      records,
      [...records].sort((a, b) => b - a),
    );
    assert.ok(t.byModel.some((m) => m.model === null && m.version === null));
    assert.ok(t.byModel.some((m) => m.model === 'gpt-4o' && m.version === '2024-05-13'));
  });

  it('puts every quirk in a dataset of 20 or more blobs, as many as truth.json says', async () => {
    const quirks = small.truth._about.quirks;
    const found = { bom: 0, crlf: 0, empty: 0, wrapper: 0, pretty: 0, cut: 0, multiByte: 0 };
    for (const file of await listFiles(small.dir)) {
      if (file === 'truth.json') continue;
      const bytes = await readFile(join(small.dir, file));
      if (bytes.length === 0) {
        found.empty += 1;
        continue;
      }
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) found.bom += 1;
      if (bytes.includes('\r\n')) found.crlf += 1;
      const head = bytes.subarray(0, 20).toString();
      const wrapper = head.startsWith('{"records"') || head.startsWith('{\n  "records"');
      if (wrapper) found.wrapper += 1;
      if (head.startsWith('{\n  "records"')) found.pretty += 1;
      if (!wrapper && bytes[bytes.length - 1] !== 0x0a) found.cut += 1;
      if (/résumé|中文/.test(bytes.toString('utf8'))) found.multiByte += 1;
    }
    assert.deepEqual(
      {
        bom: found.bom,
        crlf: found.crlf,
        empty: found.empty,
        wrapper: found.wrapper,
        pretty: found.pretty,
        cut: found.cut,
      },
      {
        bom: quirks.bomBlobs,
        crlf: quirks.crlfBlobs,
        empty: quirks.emptyBlobs,
        wrapper: quirks.wrapperBlobs,
        pretty: quirks.prettyWrapperBlobs,
        cut: quirks.cutLastLines,
      },
    );
    for (const [name, n] of Object.entries(found)) assert.ok(n >= 1, `no ${name} blob`);
    assert.ok(found.pretty < found.wrapper, 'both wrapper forms');
    const lineQuirks: (keyof QuirkCounts)[] = [
      'garbageLines',
      'blankLines',
      'lateRecords',
      'lateRecordsOtherDay',
      'companionRecords',
    ];
    for (const name of lineQuirks) {
      assert.ok(quirks[name] >= 1, `no ${name}`);
    }
    assert.equal(small.truth.malformedLines, quirks.garbageLines + quirks.cutLastLines);
    assert.ok(
      quirks.garbageLines >= 6,
      'every kind of junk line: binary, [1,2], "x", 42, null, half a record',
    );
    // Late arrivals reach back before the first day: the truth's days come from record times.
    assert.ok(small.truth.byDay.some((d) => d.day < SMALL.start));
  });

  it('puts every record quirk in the data', async () => {
    const lines: string[] = [];
    for (const file of await listFiles(join(small.dir, 'insights-logs-requestresponse'))) {
      const text = await readFile(join(small.dir, 'insights-logs-requestresponse', file), 'utf8');
      lines.push(...text.split('\n'));
    }
    const all = lines.join('\n');
    assert.match(all, /"properties":"\{\\"apiName\\"/, 'properties as a JSON string');
    assert.match(all, /"resultSignature":\d{3},/, 'numeric resultSignature');
    assert.match(all, /"durationMs":-\d+/, 'negative durationMs');
    assert.match(
      all,
      /"operationName":"(Create_Thread|Create_Message|Create_Run|Retrieve_Run|List_Messages)"/,
    );
    assert.match(all, /"time":"2024-06-30T\d\d:\d\d:\d\d\.\d{7}Z"/, '7 fractional digits');
    assert.match(all, /"requestTime":6\d{17},"responseTime":6\d{17}/, '.NET ticks');
    const withoutDuration = lines.filter(
      (l) => l.includes('"resultSignature"') && !l.includes('"durationMs"'),
    );
    assert.ok(withoutDuration.length > 0, 'missing durationMs');
    // requestTime/responseTime are .NET ticks (read as text: they exceed 2^53): responseTime is
    // the record's time, requestTime durationMs earlier.
    const line = lines.find((l) => /"durationMs":\d+,.*"properties":\{"apiName"/.test(l)) as string;
    const field = (re: RegExp) => re.exec(line)?.[1] as string;
    const time = field(/"time":"([^"]+)"/);
    const unixTicks = BigInt(Date.parse(`${time.slice(0, 23)}Z`)) * 10_000n + BigInt(time.slice(23, 27));
    const request = BigInt(field(/"requestTime":(\d+)/));
    const response = BigInt(field(/"responseTime":(\d+)/));
    assert.equal(response, unixTicks + 621_355_968_000_000_000n);
    assert.equal(response - request, BigInt(field(/"durationMs":(\d+)/)) * 10_000n);
    // Before 2024-07-01 no model fields; from then on, most calls carry one.
    assert.ok(!lines.some((l) => l.startsWith('{"time":"2024-06-30') && l.includes('modelName')));
    assert.ok(lines.some((l) => l.startsWith('{"time":"2024-07-01') && l.includes('"modelName":"gpt-4o"')));
  });

  it('is deterministic: the same options and seed give the same bytes, another seed does not', async () => {
    const again = await generate('again');
    assert.equal(await hashTree(again.dir), await hashTree(small.dir));
    const other = await generate('other', { ...SMALL, seed: 8 });
    assert.notEqual(await hashTree(other.dir), await hashTree(small.dir));
  });

  it('honours a size target within 30 %, reporting progress up to the total', async () => {
    for (const size of [2_000_000, 12_000_000]) {
      const dir = join(root, `size-${size}`);
      let lastProgress = { blobs: 0, bytes: 0, totalBlobs: 0 };
      const summary = await synthesize({ dir, seed: 3, days: 2, size }, (p) => {
        assert.ok(p.blobs >= lastProgress.blobs);
        lastProgress = p;
      });
      let bytes = 0;
      for (const file of await listFiles(dir))
        if (file !== 'truth.json') bytes += (await stat(join(dir, file))).size;
      assert.equal(summary.bytes, bytes);
      assert.ok(Math.abs(bytes - size) / size < 0.3, `${bytes} bytes for a ${size} target`);
      assert.deepEqual(lastProgress, { blobs: summary.blobs, bytes, totalBlobs: summary.blobs });
    }
  });

  it('refuses a folder that is not empty, and options that make no sense', async () => {
    const dir = join(root, 'occupied');
    await synthesize({ dir, days: 1, recordsPerHour: 1 });
    await assert.rejects(synthesize({ dir, days: 1 }), UsageError);
    await assert.rejects(synthesize({ dir: join(root, 'x1'), start: '2024-02-30' }), UsageError);
    await assert.rejects(synthesize({ dir: join(root, 'x2'), days: 0 }), UsageError);
    await assert.rejects(synthesize({ dir: join(root, 'x3'), size: 1000 }), /too small/);
  });
});

describe('synthesize --shape modern', () => {
  const MODERN = { seed: 5, days: 1, resources: 2, size: 20_000_000, shape: 'modern' as const };
  let modern: { dir: string; summary: SynthSummary; truth: TruthJson };

  before(async () => {
    modern = await generate('modern', MODERN);
  });

  it('is what sluice ingest + report finds, on every contract key', async () => {
    const seen = await reread(modern.dir);
    assert.equal(seen.records, modern.truth.records);
    assert.equal(seen.malformedLines, modern.truth.malformedLines);
    const store = join(root, 'modern.db');
    const ingest = await sluice(['ingest', modern.dir, '--store', store]);
    assert.equal(ingest.code, 0, ingest.stderr);
    const report = await sluice(['report', '--store', store, '--format', 'json']);
    assert.equal(report.code, 0, report.stderr);
    assert.deepEqual(
      compareReports(JSON.parse(report.stdout), modern.truth as unknown as Record<string, unknown>),
      [],
    );
  });

  it('writes big JSON-lines blobs of RequestResponse and GatewayLogs, a few of them legacy wrappers', async () => {
    const files = (await listFiles(modern.dir)).filter((f) => f !== 'truth.json');
    const hours = MODERN.days * 24;
    assert.equal(files.length, hours * (MODERN.resources + 1));
    for (const file of files) assert.match(file, /^insights-logs-(requestresponse|gatewaylogs)\//);
    let usual = 0;
    let oneLine = 0;
    let pretty = 0;
    let total = 0;
    for (const file of files) {
      const bytes = await readFile(join(modern.dir, file));
      total += bytes.length;
      const head = bytes.subarray(0, 20).toString();
      if (head.startsWith('{"records"')) oneLine += 1;
      if (head.startsWith('{\n  "records"')) pretty += 1;
      // A pretty-printed wrapper is half as big again as the records it holds.
      const most = head.startsWith('{\n') ? 7.5e6 : 5e6;
      assert.ok(bytes.length >= 100_000 && bytes.length <= most, `${file}: ${bytes.length} bytes`);
      if (bytes.length <= 800_000) usual += 1;
    }
    assert.ok(usual / files.length >= 0.8, `${usual} of ${files.length} blobs within 100-800 KB`);
    assert.ok(Math.abs(total - MODERN.size) / MODERN.size < 0.05, `${total} bytes for ${MODERN.size}`);
    const quirks = modern.truth._about.quirks;
    assert.deepEqual(
      { oneLine, pretty },
      { oneLine: quirks.wrapperBlobs - quirks.prettyWrapperBlobs, pretty: quirks.prettyWrapperBlobs },
    );
    assert.ok(oneLine >= 1 && pretty >= 1, 'both legacy forms');
    assert.ok(oneLine + pretty <= files.length * 0.05, `${oneLine + pretty} legacy blobs of ${files.length}`);
    assert.equal(quirks.emptyBlobs + quirks.crlfBlobs, 0);
  });

  it('is deterministic, and classic is the default shape', async () => {
    const again = await generate('modern-again', MODERN);
    assert.equal(await hashTree(again.dir), await hashTree(modern.dir));
    const classic = await generate('classic', { ...SMALL, shape: 'classic' });
    const byDefault = await generate('classic-default', SMALL);
    assert.equal(await hashTree(classic.dir), await hashTree(byDefault.dir));
  });
});
