// The source registry: turns a <source> argument into a Source. One line per kind.
import { UsageError } from '../errors.js';
import { isBlobAddress } from './azure/address.js';
import { redact } from './azure/redact.js';
import { FileSource } from './file/index.js';
import type { Source } from './types.js';

export interface SourceOptions {
  /** Azure Storage connection string (else $AZURE_STORAGE_CONNECTION_STRING, a SAS, a key, or DefaultAzureCredential). */
  connectionString?: string;
  verbose?: boolean;
  /** Most requests at once to a blob service: at least the most items a run may have at once. */
  maxSockets?: number;
}

export async function openSource(location: string, options: SourceOptions = {}): Promise<Source> {
  if (isBlobAddress(location)) {
    // Loaded only when needed: the Azure SDK is large, and a folder ingest should not pay for it.
    const { configureAzureLogging, openAzureSource } = await import('./azure/index.js');
    configureAzureLogging(Boolean(options.verbose));
    return openAzureSource(location, {
      ...(options.connectionString ? { connectionString: options.connectionString } : {}),
      ...(options.maxSockets ? { maxSockets: options.maxSockets } : {}),
    });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !/^file:\/\//i.test(location)) {
    throw new UsageError(
      `unknown source ${JSON.stringify(redact(location.split('?')[0] ?? ''))}: use a folder path, file:<path>, file:///<path>, azure://<account>/<container>[/<prefix>] or https://<account>.blob.core.windows.net/<container>[/<prefix>][?<SAS>]`,
    );
  }
  return FileSource.open(location);
}
