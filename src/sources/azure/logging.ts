// Keeps the Azure SDK's own log lines quiet unless asked, and never lets them print a secret.
import { format } from 'node:util';
import { AzureLogger, type AzureLogLevel, setLogLevel } from '@azure/logger';
import { redact } from './redact.js';

const LEVELS = new Set(['verbose', 'info', 'warning', 'error']);

/**
 * `verbose`: the SDK's info log (requests and responses). Otherwise the level in AZURE_LOG_LEVEL if the user
 * set one, else nothing: at `warning` the SDK already prints deprecation notices and every credential
 * DefaultAzureCredential skipped, and at `error` every failed try that sluice retries and counts itself, so
 * the user would see noise for failures that end well, or that sluice reports once with advice. Every line
 * that is printed goes through `redact`.
 */
export function configureAzureLogging(verbose: boolean, env: NodeJS.ProcessEnv = process.env): void {
  const chosen = env.AZURE_LOG_LEVEL?.toLowerCase();
  setLogLevel(verbose ? 'info' : LEVELS.has(chosen ?? '') ? (chosen as AzureLogLevel) : undefined);
  AzureLogger.log = (...args: unknown[]) => {
    process.stderr.write(`${redact(format(...args))}\n`);
  };
}
