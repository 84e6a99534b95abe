// Renders one log record per call as a JSON line (template strings: fast and exactly Azure's
// field order), and states the facts about it that truth.ts counts: time, status, latency, model.
import { type Account, type Deployment, type Gateway, MODEL_FIELDS_SINCE, versionAt } from './catalog.js';
import type { Random } from './random.js';
import { RATE_LIMIT, RECORD_RATES, STATUS_MIX } from './rates.js';

/** What a rendered record says, in the terms sluice counts it by. */
export interface Facts {
  /** The record's `time`, verbatim. */
  time: string;
  /** Its instant: epoch ms plus 100 ns units within that ms (7 fractional digits exceed a double). */
  ms: number;
  sub: number;
  /** resultSignature, or properties.responseCode for GatewayLogs; null when absent. */
  status: number | null;
  /** null when absent; may be negative (a real quirk). */
  durationMs: number | null;
  model: string | null;
  version: string | null;
}

/** Quirks forced onto one call, so a small dataset is sure to show each of them. */
export interface CallQuirks {
  status?: number;
  propertiesAsString?: boolean;
  numericSignature?: boolean;
  duration?: 'negative' | 'missing';
  assistants?: boolean;
}

const HOUR_MS = 3_600_000;
export const GARBAGE_KINDS = 6;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const API_NAMES = [
  'Azure OpenAI API version 2024-02-01',
  'Azure OpenAI API version 2024-06-01',
  'Azure OpenAI API version 2024-10-21',
  'Azure OpenAI API version 2024-05-01-preview',
];
const ASSISTANTS_OPS = ['Create_Thread', 'Create_Message', 'Create_Run', 'Retrieve_Run', 'List_Messages'];
const AUDIT_OPS = ['ListKey', 'ListKey', 'ListKey', 'RegenerateKey'];
/** Bytes never valid at the start of a UTF-8 sequence, and never a line break: junk that stays one line. */
const JUNK_BYTES = [
  ...Array.from({ length: 9 }, (_, i) => i),
  ...Array.from({ length: 64 }, (_, i) => 0x80 + i),
  0xf8,
  0xfe,
  0xff,
];

/** Formats an instant the way Azure writes `time`: `2024-06-09T14:17:42.1234567Z`. */
export class TimeText {
  private hour = Number.NaN;
  private prefix = '';

  format(ms: number, sub: number): string {
    const hour = ms - (ms % HOUR_MS);
    if (hour !== this.hour) {
      this.hour = hour;
      this.prefix = new Date(hour).toISOString().slice(0, 14);
    }
    const within = ms - hour;
    const minute = TWO_DIGITS[Math.floor(within / 60_000)] as string;
    const second = TWO_DIGITS[Math.floor(within / 1000) % 60] as string;
    const fraction = String((within % 1000) * 10_000 + sub).padStart(7, '0');
    return `${this.prefix}${minute}:${second}.${fraction}Z`;
  }
}

/**
 * .NET ticks (100 ns since 0001-01-01) as decimal text. They exceed 2^53, so the sum is done in
 * two parts: 621355968000000000 = 621355e12 + 968e9 and ms = a * 1e8 + b.
 */
export function dotnetTicks(ms: number, sub: number): string {
  const a = Math.floor(ms / 1e8);
  const b = ms - a * 1e8;
  let low = 968_000_000_000 + b * 10_000 + sub;
  let high = 621_355 + a;
  if (low >= 1e12) {
    low -= 1e12;
    high += 1;
  }
  return `${high}${String(low).padStart(12, '0')}`;
}

function lognormal(rnd: Random, median: number, sigma: number): number {
  return median * Math.exp(sigma * rnd.normal());
}

export class RecordMaker {
  /** Facts about the record last rendered. */
  readonly facts: Facts = {
    time: '',
    ms: 0,
    sub: 0,
    status: null,
    durationMs: null,
    model: null,
    version: null,
  };
  private readonly time = new TimeText();
  private readonly objectIds: string[];
  private last = { correlationId: '', operation: '', apiName: '', stream: '', ms: 0, sub: 0 };

  constructor(private readonly rnd: Random) {
    this.objectIds = [rnd.guid(), rnd.guid(), rnd.guid()];
  }

  private stamp(ms: number, sub: number, status: number | null, durationMs: number | null): string {
    const f = this.facts;
    f.time = this.time.format(ms, sub);
    f.ms = ms;
    f.sub = sub;
    f.status = status;
    f.durationMs = durationMs;
    f.model = null;
    f.version = null;
    return f.time;
  }

  /** A call's HTTP status: 429 at `p429`, the STATUS_MIX for the rest, 200 otherwise. */
  status(p429: number): number {
    let u = this.rnd.next();
    if (u < p429) return 429;
    u = (u - p429) / (1 - p429);
    for (const [code, p] of STATUS_MIX) {
      if (u < p) return code;
      u -= p;
    }
    return 200;
  }

  /** Integer ms: throttled and rejected calls are fast, 408s wait for the timeout, big models are slow. */
  latency(status: number, medianMs: number): number {
    const rnd = this.rnd;
    let ms: number;
    if (status === 429) ms = lognormal(rnd, 12, 0.6);
    else if (status === 408) ms = lognormal(rnd, 20_000, 0.3);
    else if (status >= 400 && status < 500) ms = lognormal(rnd, 25, 0.7);
    else if (status === 500) ms = lognormal(rnd, 3000, 1.0);
    else if (status === 503) ms = lognormal(rnd, 200, 0.8);
    else {
      ms = lognormal(rnd, medianMs, 0.55);
      if (rnd.chance(RECORD_RATES.slowTail)) ms *= 4 + rnd.next() * 16;
    }
    return Math.round(ms);
  }

  private deployment(account: Account): Deployment {
    let u = this.rnd.next();
    for (const d of account.deployments) {
      if (u < d.weight) return d;
      u -= d.weight;
    }
    return account.deployments[account.deployments.length - 1] as Deployment;
  }

  private subMs(account: Account): number {
    return account.msPrecision ? 0 : this.rnd.int(10_000);
  }

  /** One `RequestResponse` record for a call that ended at `ms`. */
  requestResponse(account: Account, ms: number, p429: number, force: CallQuirks = {}): string {
    const rnd = this.rnd;
    const sub = this.subMs(account);
    const assistants = force.assistants ?? rnd.chance(account.assistantsShare);
    const d = this.deployment(account);
    const operation = assistants
      ? rnd.pick(ASSISTANTS_OPS)
      : d.embeddings
        ? 'Embeddings_Create'
        : 'ChatCompletions_Create';
    const status = force.status ?? this.status(p429);
    const took = this.latency(status, assistants ? 120 : d.medianMs);
    let durationMs: number | null = took;
    const quirk = rnd.next();
    if (force.duration === 'negative' || (!force.duration && quirk < RECORD_RATES.negativeDuration)) {
      durationMs = -rnd.range(1, 40);
    } else if (
      force.duration === 'missing' ||
      (!force.duration && quirk < RECORD_RATES.negativeDuration + RECORD_RATES.missingDuration)
    ) {
      durationMs = null;
    }
    const time = this.stamp(ms, sub, status, durationMs);
    const spent = durationMs ?? took;
    const stream = !d.embeddings && !assistants && rnd.chance(0.4) ? 'Streaming' : 'Non-Streaming';
    const apiName = rnd.pick(API_NAMES);
    const objectId = rnd.chance(0.7) ? '' : rnd.pick(this.objectIds);
    const ok = status < 300;
    const requestLength = d.embeddings ? rnd.range(40, 2000) : rnd.range(150, 9000);
    const responseLength = ok
      ? d.embeddings
        ? rnd.range(12000, 36000)
        : rnd.range(300, 5000)
      : rnd.range(180, 420);
    let model = '';
    if (!assistants && ms >= MODEL_FIELDS_SINCE) {
      const version = versionAt(d, ms);
      this.facts.model = d.model;
      this.facts.version = version;
      model = `,"modelDeploymentName":"${d.name}","modelName":"${d.model}","modelVersion":"${version}"`;
    }
    let properties = `{"apiName":"${apiName}","requestTime":${dotnetTicks(ms - spent, sub)},"responseTime":${dotnetTicks(ms, sub)},"requestLength":${requestLength},"responseLength":${responseLength},"objectId":"${objectId}","streamType":"${stream}"${model}}`;
    if (force.propertiesAsString ?? rnd.chance(RECORD_RATES.propertiesAsString)) {
      properties = JSON.stringify(properties);
    }
    const numeric = force.numericSignature ?? rnd.chance(RECORD_RATES.numericResultSignature);
    const signature = numeric ? String(status) : `"${status}"`;
    const duration = durationMs === null ? '' : `,"durationMs":${durationMs}`;
    const correlationId = rnd.guid();
    this.last = { correlationId, operation, apiName, stream, ms, sub };
    return `{"time":"${time}","resourceId":"${account.resourceId}","category":"RequestResponse","operationName":"${operation}","resultSignature":${signature}${duration},"callerIpAddress":"${account.ipPrefix}","correlationId":"${correlationId}","location":"${account.location}","Tenant":"${account.location}","event":"ShoeboxCallResult","properties":${properties}}`;
  }

  /** The near-empty row some exports add after a call: same correlationId, no status, no model. */
  companion(account: Account): string {
    const { correlationId, operation, apiName, stream } = this.last;
    const ms = this.last.ms + this.rnd.int(5);
    const sub = account.msPrecision ? 0 : this.last.sub;
    // Half of them carry durationMs 0: with no status they must still stay out of latency.
    const zero = this.rnd.chance(0.5);
    const time = this.stamp(ms, sub, null, zero ? 0 : null);
    const duration = zero ? ',"durationMs":0' : '';
    return `{"time":"${time}","resourceId":"${account.resourceId}","category":"RequestResponse","operationName":"${operation}"${duration},"callerIpAddress":"${account.ipPrefix}","correlationId":"${correlationId}","location":"${account.location}","Tenant":"${account.location}","event":"ShoeboxCallResult","properties":{"apiName":"${apiName}","objectId":"","streamType":"${stream}"}}`;
  }

  /** One `AzureOpenAIRequestUsage` record: token counts, always a model, never a status. */
  usage(account: Account, ms: number): string {
    const rnd = this.rnd;
    const d = this.deployment(account);
    const version = versionAt(d, ms);
    const time = this.stamp(ms, this.subMs(account), null, null);
    this.facts.model = d.model;
    this.facts.version = version;
    const prompt = d.embeddings ? rnd.range(8, 2000) : rnd.range(20, 6000);
    const completion = d.embeddings ? 0 : rnd.range(1, 1500);
    const operation = d.embeddings ? 'Embeddings_Create' : 'ChatCompletions_Create';
    const stream = d.embeddings || rnd.chance(0.6) ? 'Non-Streaming' : 'Streaming';
    return `{"time":"${time}","resourceId":"${account.resourceId}","category":"AzureOpenAIRequestUsage","operationName":"${operation}","correlationId":"${rnd.guid()}","location":"${account.location}","Tenant":"${account.location}","properties":{"modelDeploymentName":"${d.name}","modelName":"${d.model}","modelVersion":"${version}","promptTokens":${prompt},"completionTokens":${completion},"totalTokens":${prompt + completion},"streamType":"${stream}"}}`;
  }

  /** One `Audit` record (key listings and the like): no status. */
  audit(account: Account, ms: number): string {
    const rnd = this.rnd;
    const time = this.stamp(ms, this.subMs(account), null, null);
    return `{"time":"${time}","resourceId":"${account.resourceId}","category":"Audit","operationName":"${rnd.pick(AUDIT_OPS)}","callerIpAddress":"${account.ipPrefix}","correlationId":"${rnd.guid()}","location":"${account.location}","properties":{"objectId":"${rnd.pick(this.objectIds)}"}}`;
  }

  /**
   * One API Management `GatewayLogs` record for a call routed to one of `accounts`. The status is
   * in properties.responseCode; APIM's own rejections (no key, its rate-limit policy) never reach
   * a backend, so they have no backend fields.
   */
  gatewayLog(gateway: Gateway, accounts: Account[], ms: number, p429: number): string {
    const rnd = this.rnd;
    const account = rnd.pick(accounts);
    const d = this.deployment(account);
    let status = rnd.chance(0.004) ? 401 : this.status(p429);
    const byGateway = status === 401 || (status === 429 && rnd.chance(0.4));
    const backendTime = byGateway ? 0 : this.latency(status, d.medianMs);
    if (status === 200 && rnd.chance(0.05)) status = 201; // a few create-style operations
    const durationMs = backendTime + rnd.range(1, byGateway ? 4 : 30);
    const time = this.stamp(ms, rnd.int(10_000), status, durationMs);
    const ok = status < 400;
    const path = d.embeddings ? 'embeddings' : 'chat/completions';
    const operationId = d.embeddings ? 'embeddings_create' : 'ChatCompletions_Create';
    const api = '?api-version=2024-10-21';
    const backend = byGateway
      ? ''
      : `"backendMethod":"POST","backendUrl":"https://${account.name.toLowerCase()}.openai.azure.com/openai/deployments/${d.name}/${path}${api}","backendResponseCode":${status === 201 ? 200 : status},"backendTime":${backendTime},"backendProtocol":"HTTP/1.1",`;
    const responseSize = ok ? rnd.range(400, 6000) : rnd.range(150, 400);
    return `{"DeploymentVersion":"0.47.21012.0","Level":4,"isRequestSuccess":${ok},"time":"${time}","operationName":"Microsoft.ApiManagement/GatewayLogs","category":"GatewayLogs","durationMs":${durationMs},"callerIpAddress":"10.${rnd.range(0, 255)}.${rnd.range(0, 255)}.${rnd.range(1, 254)}","correlationId":"${rnd.guid()}","location":"${gateway.location}","properties":{"method":"POST","url":"https://${gateway.host}/openai/deployments/${d.name}/${path}${api}",${backend}"responseCode":${status},"responseSize":${responseSize},"cache":"none","requestSize":${rnd.range(150, 9000)},"apiId":"azure-openai","operationId":"${operationId}","apiRevision":"1","clientProtocol":"HTTP/1.1","clientTlsVersion":"1.2"},"resourceId":"${gateway.resourceId}","resultType":"${ok ? 'Succeeded' : 'Failed'}"}`;
  }

  /**
   * A line that is not a record, of kind 0 to GARBAGE_KINDS - 1: binary junk, a non-object JSON
   * value, or half a record. Leaves `facts` as they were: the line is never counted as a record.
   */
  garbage(kind: number, account: Account, ms: number): string | Buffer {
    const rnd = this.rnd;
    switch (kind) {
      case 0:
        return Buffer.from(Array.from({ length: rnd.range(8, 64) }, () => rnd.pick(JUNK_BYTES)));
      case 1:
        return '[1,2]';
      case 2:
        return '"x"';
      case 3:
        return '42';
      case 4:
        return 'null';
      default: {
        const facts = { ...this.facts };
        const half = cutRecord(rnd, this.requestResponse(account, ms, RATE_LIMIT.base));
        Object.assign(this.facts, facts);
        return half;
      }
    }
  }
}

/** A record cut mid-write: a strict prefix of its UTF-8 bytes (possibly mid-character), so never valid JSON. */
export function cutRecord(rnd: Random, line: string): Buffer {
  const bytes = Buffer.from(line);
  const keep = Math.max(1, Math.floor(bytes.length * (0.15 + 0.8 * rnd.next())));
  return bytes.subarray(0, Math.min(keep, bytes.length - 1));
}
