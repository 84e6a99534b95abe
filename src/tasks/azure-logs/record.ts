// What one Azure resource-log record contributes: its status class, day, model and latency.
// Pure: a parsed JSON object in, counts into a RecordTally out.

export type StatusClass = 'success' | 'rateLimited' | 'clientError' | 'serverError' | 'noStatus';

export const STATUS_CLASSES: readonly StatusClass[] = [
  'success',
  'rateLimited',
  'clientError',
  'serverError',
  'noStatus',
];

/** A status given as text: three digits, 100 to 599, nothing else (not `0x1F4`, `2e2` or ` 200`). */
const STATUS_DIGITS = /^[1-5][0-9][0-9]$/;

/** An HTTP status as an integer 100..599, from a whole number or three digits of text; null otherwise. */
export function statusCode(value: unknown): number | null {
  if (typeof value === 'number')
    return Number.isInteger(value) && value >= 100 && value <= 599 ? value : null;
  return typeof value === 'string' && STATUS_DIGITS.test(value) ? Number(value) : null;
}

/**
 * The status code key of a record with no usable status but a value where it should be: one key
 * for all such values, so whatever the data holds there, the status codes stay a bounded set.
 */
export const OTHER_STATUS = 'other';

export function statusClass(code: number | null): StatusClass {
  if (code === null) return 'noStatus';
  if (code >= 200 && code < 300) return 'success';
  if (code === 429) return 'rateLimited';
  if (code >= 400 && code < 500) return 'clientError';
  if (code >= 500) return 'serverError';
  return 'noStatus'; // 1xx and 3xx: not a success, not a failure of the call
}

const ISO_Z = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;

/** A record time as a sortable UTC key with 7 fractional digits, and its UTC day. */
export interface RecordTime {
  key: string;
  day: string;
}

export function recordTime(value: unknown): RecordTime | null {
  if (typeof value !== 'string') return null;
  // Azure's own form, 2024-06-01T10:41:13.7226411Z, is already its key.
  if (SEVEN_DIGIT_UTC.test(value)) return { key: value, day: value.slice(0, 10) };
  const m = ISO_Z.exec(value);
  if (m) {
    const fraction = (m[3] ?? '').padEnd(7, '0').slice(0, 7);
    return { key: `${m[1]}T${m[2]}.${fraction}Z`, day: m[1] as string };
  }
  // Other ISO forms (offsets, no seconds): normalise through Date; sub-millisecond digits are lost.
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value)) return null;
  const iso = new Date(ms).toISOString();
  return { key: `${iso.slice(0, 23)}0000Z`, day: iso.slice(0, 10) };
}

/** Azure's own time form, with 7 fractional digits: its text is already its sortable key. */
const SEVEN_DIGIT_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/;

/** `properties` is an object, or in some exports a JSON-encoded string of one. */
export function recordProperties(value: unknown): Record<string, unknown> | undefined {
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** Latency in ms when usable: a non-negative finite number (numeric strings accepted). */
export function durationMs(value: unknown): number | null {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value !== ''
        ? Number(value)
        : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** The account (or service) name: the last segment of the resourceId. */
export function resourceName(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const slash = value.lastIndexOf('/');
  return slash >= 0 && slash < value.length - 1 ? value.slice(slash + 1) : value;
}

/** The fields of a record that the report needs, normalised. */
export interface RecordFacts {
  time: RecordTime | null;
  timeText: string | null;
  code: number | null;
  status: string | null;
  cls: StatusClass;
  latencyMs: number | null;
  model: string | null;
  version: string | null;
  deployment: string | null;
  operation: string | null;
  category: string | null;
  resource: string | null;
}

/** Past ASCII: in Latin-1 text read from UTF-8 bytes, where a character needs decoding again. */
const HIGH = /[\x80-\xff]/;
/** Re-decoded values, remembered: the same few names recur in every blob. */
const recoded = new Map<string, string>();
const RECODED_MAX = 10_000;

/**
 * A value from a record parsed out of Latin-1 text that holds UTF-8 bytes (one byte per char, no
 * `\u` escapes): its strings are those bytes, decoded here as the UTF-8 they are.
 */
function fromBytes(value: unknown): unknown {
  if (typeof value !== 'string' || !HIGH.test(value)) return value;
  let decoded = recoded.get(value);
  if (decoded === undefined) {
    decoded = Buffer.from(value, 'latin1').toString('utf8');
    if (recoded.size >= RECODED_MAX) recoded.clear();
    recoded.set(value, decoded);
  }
  return decoded;
}

const same = (value: unknown): unknown => value;

/**
 * The report's fields of one record. `bytes`: the record was parsed from Latin-1 text of UTF-8
 * bytes, so the strings read from it are decoded (only those: the rest of the record is not).
 */
export function recordFacts(record: Record<string, unknown>, bytes = false): RecordFacts {
  const v = bytes ? fromBytes : same;
  const properties = recordProperties(record.properties);
  const category = text(v(record.category));
  // API Management gateway logs carry the HTTP status in properties.responseCode.
  const raw = v(category === 'GatewayLogs' ? properties?.responseCode : record.resultSignature);
  const code = statusCode(raw);
  const cls = statusClass(code);
  const status =
    code !== null ? String(code) : raw !== undefined && raw !== null && raw !== '' ? OTHER_STATUS : null;
  const timeValue = v(record.time);
  const time = recordTime(timeValue);
  return {
    time,
    timeText: time ? (timeValue as string) : null,
    code,
    status,
    cls,
    latencyMs: cls === 'noStatus' ? null : durationMs(v(record.durationMs)),
    model: text(v(properties?.modelName)),
    version: text(v(properties?.modelVersion)),
    deployment: text(v(properties?.modelDeploymentName)),
    operation: text(v(record.operationName)),
    category,
    resource: resourceName(v(record.resourceId)),
  };
}
