// Keeps the Azure SDK's own log lines quiet unless asked, and never lets them print a secret. With
// --verbose, one short line per request try (what, outcome, time), not the SDK's dumps of requests,
// responses and sockets (which came to 94 MB for a thousand blobs).
import { formatWithOptions } from 'node:util';
import { AzureLogger, type AzureLogLevel, setLogLevel } from '@azure/logger';
import { escapeTerminal } from '../../report/escape.js';
import { redact } from './redact.js';

const LEVELS = new Set(['verbose', 'info', 'warning', 'error']);

/** Longest log line printed: an SDK message past it is cut (objects are summarised, not dumped). */
const MAX_LINE_CHARS = 400;
/** How SDK log arguments are rendered: shallow, short, on one line. */
const INSPECT = { depth: 1, breakLength: Number.POSITIVE_INFINITY, maxArrayLength: 5, maxStringLength: 200 };

let writeRequestLine: ((line: string) => void) | undefined;

/** One SDK log call as one short redacted line. */
export function logLine(args: unknown[]): string {
  const line = formatWithOptions(INSPECT, ...args).replace(/\s*\n\s*/g, ' ');
  const cut =
    line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… (${line.length} chars)` : line;
  return escapeTerminal(redact(cut));
}

/**
 * `verbose`: one line per request try (see `logRequest`) and the SDK's warnings. Otherwise the level in
 * AZURE_LOG_LEVEL if the user set one, else nothing: at `warning` the SDK already prints deprecation notices
 * and every credential DefaultAzureCredential skipped, and at `error` every failed try that sluice retries
 * and counts itself, so the user would see noise for failures that end well, or that sluice reports once
 * with advice. Every line that is printed is one line, cut to a length, and goes through `redact`.
 */
export function configureAzureLogging(
  verbose: boolean,
  env: NodeJS.ProcessEnv = process.env,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): void {
  const chosen = env.AZURE_LOG_LEVEL?.toLowerCase();
  const level = LEVELS.has(chosen ?? '') ? (chosen as AzureLogLevel) : verbose ? 'warning' : undefined;
  setLogLevel(level);
  AzureLogger.log = (...args: unknown[]) => write(logLine(args));
  writeRequestLine = verbose ? write : undefined;
}

/** With --verbose, says one request try in one line: `azure: reading x.json from 0: ok in 35 ms`. */
export function logRequest(what: string, ms: number, outcome: string): void {
  writeRequestLine?.(
    escapeTerminal(redact(`azure: ${what}: ${outcome} in ${ms} ms`.slice(0, MAX_LINE_CHARS))),
  );
}
