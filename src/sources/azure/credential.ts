// Chooses the one credential a blob source uses, from flags, the URL and the environment, in a fixed order.
import { UsageError } from '../../errors.js';
import type { BlobAddress } from './address.js';
import { redact, registerSecret } from './redact.js';

export interface CredentialOptions {
  /** `--connection-string`; beats every other way. */
  connectionString?: string;
  /** Where AZURE_STORAGE_* are read from; `process.env` unless a test passes its own. */
  env?: NodeJS.ProcessEnv;
}

/**
 * How requests are authorised. `key` signs each request with the account key, `sas` appends a SAS to every
 * URL, `default` asks `DefaultAzureCredential` (az login, managed identity, environment) for tokens.
 */
export type CredentialKind = 'key' | 'sas' | 'default';

/** The endpoint and credential a source talks to, and where they came from (for messages). */
export interface BlobAccess {
  kind: CredentialKind;
  /** Where the credential came from, e.g. `AZURE_STORAGE_CONNECTION_STRING`, printable. */
  from: string;
  account: string;
  /** Blob service endpoint without a query string, no trailing slash. */
  endpoint: string;
  accountKey?: string;
  /** SAS query string without the leading `?`. */
  sas?: string;
}

/** Azurite's published development account; not a secret. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * Order: `--connection-string`, a SAS in the URL, AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN,
 * AZURE_STORAGE_KEY, then DefaultAzureCredential. What the user typed on this command line (flag, URL) beats
 * what the shell happens to hold, so a SAS URL still works in a shell that has an emulator connection string.
 */
export function resolveAccess(address: BlobAddress, options: CredentialOptions = {}): BlobAccess {
  const env = options.env ?? process.env;
  const publicEndpoint = address.endpoint ?? `https://${address.account}.blob.core.windows.net`;
  if (options.connectionString) {
    return fromConnectionString(address, options.connectionString, '--connection-string');
  }
  if (address.sas) {
    return {
      kind: 'sas',
      from: 'the SAS in the URL',
      account: address.account,
      endpoint: publicEndpoint,
      sas: address.sas,
    };
  }
  if (env.AZURE_STORAGE_CONNECTION_STRING) {
    return fromConnectionString(
      address,
      env.AZURE_STORAGE_CONNECTION_STRING,
      'AZURE_STORAGE_CONNECTION_STRING',
    );
  }
  const sasToken = env.AZURE_STORAGE_SAS_TOKEN?.trim().replace(/^\?/, '');
  if (sasToken) {
    registerSecret(sasToken);
    return {
      kind: 'sas',
      from: 'AZURE_STORAGE_SAS_TOKEN',
      account: address.account,
      endpoint: publicEndpoint,
      sas: sasToken,
    };
  }
  const accountKey = env.AZURE_STORAGE_KEY?.trim();
  if (accountKey) {
    registerSecret(accountKey);
    return {
      kind: 'key',
      from: 'AZURE_STORAGE_KEY',
      account: address.account,
      endpoint: publicEndpoint,
      accountKey,
    };
  }
  return {
    kind: 'default',
    from: 'DefaultAzureCredential',
    account: address.account,
    endpoint: publicEndpoint,
  };
}

/** `Key=value;...` pairs, keys case-insensitive; values may contain `=` (base64 keys, SAS). */
export function parseConnectionString(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    parts.set(pair.slice(0, eq).trim().toLowerCase(), pair.slice(eq + 1).trim());
  }
  return parts;
}

function fromConnectionString(address: BlobAddress, text: string, from: string): BlobAccess {
  const parts = parseConnectionString(text);
  registerSecret(parts.get('accountkey'));
  registerSecret(parts.get('sharedaccesssignature'));
  const invalid = (what: string) =>
    new UsageError(
      `The connection string from ${from} ${what}. Copy it from the portal (Access keys or Shared access signature), ` +
        'e.g. "DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net".',
    );
  const dev = parts.get('usedevelopmentstorage')?.toLowerCase() === 'true';
  const account = dev ? DEV_ACCOUNT : (parts.get('accountname') ?? accountOf(parts.get('blobendpoint')));
  const accountKey = dev ? DEV_ACCOUNT_KEY : parts.get('accountkey');
  const sas = parts.get('sharedaccesssignature')?.replace(/^\?/, '');
  let endpoint = dev ? `http://127.0.0.1:10000/${DEV_ACCOUNT}` : parts.get('blobendpoint');
  if (!endpoint && account) {
    const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
    endpoint = `${protocol}://${account}.blob.${parts.get('endpointsuffix') ?? 'core.windows.net'}`;
  }
  if (!endpoint || !account) throw invalid('names no AccountName or BlobEndpoint');
  if (!accountKey && !sas) throw invalid('has neither AccountKey nor SharedAccessSignature');
  if (account !== address.account) {
    throw new UsageError(
      redact(
        `${address.uri} names storage account "${address.account}" but the connection string from ${from} is for ` +
          `"${account}". Use azure://${account}/..., or the connection string of "${address.account}".`,
      ),
    );
  }
  // With azure:// the connection string decides the endpoint (so an emulator works unchanged); a URL names its own.
  const base = {
    from,
    account,
    endpoint: trimSlash(address.endpoint ?? endpoint),
  };
  return accountKey ? { ...base, kind: 'key', accountKey } : { ...base, kind: 'sas', sas };
}

/** The account in a blob endpoint: the first host label (`acct.blob...`) or the first path segment (emulator). */
function accountOf(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  try {
    const url = new URL(endpoint);
    if (/\.blob\./i.test(url.hostname)) return url.hostname.split('.')[0]?.toLowerCase();
    return url.pathname.split('/')[1] || undefined;
  } catch {
    return undefined;
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
