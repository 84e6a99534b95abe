// How often each status and quirk occurs, in one place so the rates are easy to read and tune.
// Blob rates are per blob, record rates per record; tests rely on at least one of each in any
// dataset of 20 or more RequestResponse blobs (see plan.ts), not on these exact numbers.

export const BLOB_RATES = {
  /** A UTF-8 byte order mark before the first line. */
  bom: 0.05,
  /** Lines end in \r\n. */
  crlf: 0.05,
  /** One line that is not a JSON object: binary junk, `[1,2]`, `"x"`, `42`, a half record. */
  garbage: 0.02,
  /** The last line cut mid-write: truncated JSON, no newline (an append blob read while growing). */
  cutLastLine: 0.02,
  /** 1 to 3 empty lines between records (or after the last one). */
  blankLines: 0.04,
  /** A 0-byte blob. */
  empty: 0.01,
  /** The pre-2018 `{"records": [...]}` form; half of them pretty-printed over many lines. */
  wrapper: 0.004,
} as const;

/**
 * The modern shape's blob rates: JSON lines as Azure writes them today, a BOM or a junk line now
 * and then, the last line cut when a blob is read while still being appended to, and a few
 * legacy wrappers (an account that kept pre-2018 blobs). No CRLF, no empty blobs.
 */
export const MODERN_BLOB_RATES = {
  bom: 0.002,
  crlf: 0,
  garbage: 0.002,
  cutLastLine: 0.01,
  blankLines: 0.002,
  empty: 0,
  wrapper: 0.003,
} as const satisfies Record<keyof typeof BLOB_RATES, number>;

/**
 * Modern blob sizes: lognormal around the mean, a few several times bigger, kept within 100 KB -
 * 5 MB (the bounds are in records of average size, hence the margins).
 */
export const MODERN_BLOBS = {
  sigma: 0.45,
  /** Share of blobs 3 to 10 times the size their hour would give. */
  bigShare: 0.03,
  minBytes: 110_000,
  maxBytes: 4_800_000,
} as const;

export const RECORD_RATES = {
  /** `properties` written as a JSON-encoded string (RequestResponse only). */
  propertiesAsString: 0.15,
  /** `resultSignature` as a number, not a string. */
  numericResultSignature: 0.05,
  negativeDuration: 0.003,
  missingDuration: 0.005,
  /** A near-empty companion row after a call: same correlationId, no status, no model. */
  companion: 0.02,
  /** Stamped up to 2 h before the blob's hour (RequestResponse and GatewayLogs). */
  lateArrival: 0.01,
  /** A latency outlier: the drawn duration times 4 to 20. */
  slowTail: 0.005,
} as const;

/** Status mix of a call outside a 429 burst; 200 takes the rest. */
export const STATUS_MIX: readonly [number, number][] = [
  [400, 0.011],
  [401, 0.003],
  [404, 0.003],
  [408, 0.0015],
  [413, 0.0015],
  [500, 0.004],
  [503, 0.0035],
];

/** 429 share outside bursts, and the range inside a burst hour. */
export const RATE_LIMIT = { base: 0.012, burstMin: 0.15, burstMax: 0.4 } as const;

/** Traffic relative to the categories' own RequestResponse volume. */
export const VOLUME = {
  /** GatewayLogs per hour, relative to the accounts' summed RequestResponse volume. */
  gateway: 0.3,
  /** AzureOpenAIRequestUsage records per RequestResponse record. */
  usage: 0.25,
  /** Chance that an account-hour has Audit records (1 to 3 of them). */
  auditHour: 0.06,
} as const;
