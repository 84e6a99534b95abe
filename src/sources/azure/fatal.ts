// Turns failures that no retry can fix (bad key, expired SAS, no container, no such host, a request the
// service calls invalid) into usage errors.
import { type ItemError, UsageError } from '../../errors.js';
import type { BlobAddress } from './address.js';
import type { BlobAccess } from './credential.js';
import { redact } from './redact.js';
import { classifyFailure, describeFailure } from './retry.js';

const AUTH_CODES = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationSourceIPMismatch',
  'AuthorizationProtocolMismatch',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
  'KeyBasedAuthenticationNotPermitted',
]);

export interface Where {
  address: BlobAddress;
  access: BlobAccess;
}

/** The SAS expiry (`se=`), when the SAS has one and it is past: the commonest reason a SAS stops working. */
function expiredAt(sas: string | undefined, now: number): string | undefined {
  const se = sas ? new URLSearchParams(sas).get('se') : null;
  if (!se) return undefined;
  const at = Date.parse(se);
  return Number.isNaN(at) || at > now ? undefined : se;
}

function authAdvice({ address, access }: Where, now: number): string {
  const where = `container "${address.container}" of account "${access.account}"`;
  if (access.kind === 'key') {
    return `the account key from ${access.from} was rejected for ${where}. Use a current key (key1 or key2 under Access keys) of "${access.account}".`;
  }
  if (access.kind === 'sas') {
    const expired = expiredAt(access.sas, now);
    const why = expired
      ? `it expired at ${expired}`
      : 'it may have expired, lack list (l) and read (r) permissions, or be for another container';
    return `the SAS from ${access.from} was refused for ${where}: ${why}. Create a new SAS.`;
  }
  return `your Azure identity (DefaultAzureCredential) may not read ${where}. Assign it "Storage Blob Data Reader" on the account or container, or pass --connection-string.`;
}

/**
 * A `UsageError` when `error` means nothing will work until the user changes something, else undefined.
 * `during`: a 400 while listing is the user's input (the prefix, the SAS); while reading one blob it is
 * that blob's problem, and fails only that item.
 */
export function explainFatal(
  error: unknown,
  where: Where,
  now = Date.now(),
  during: 'list' | 'read' = 'list',
): UsageError | undefined {
  if (error instanceof UsageError) return error;
  const { address, access } = where;
  const name = (error as { name?: string } | null)?.name ?? '';
  if (/CredentialUnavailableError|AggregateAuthenticationError|AuthenticationRequiredError/.test(name)) {
    return new UsageError(
      `No Azure credential found to read ${address.uri}: set --connection-string, AZURE_STORAGE_CONNECTION_STRING, ` +
        'AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_KEY, or sign in with `az login`.',
    );
  }
  if (/non-TLS|non-https/i.test((error as { message?: string } | null)?.message ?? '')) {
    return new UsageError(
      `${access.endpoint} is plain http, and Azure AD tokens (DefaultAzureCredential) are only sent over https. ` +
        'For the emulator pass its connection string (--connection-string or AZURE_STORAGE_CONNECTION_STRING).',
    );
  }
  const failure = classifyFailure(error);
  const detail = describeFailure(failure);
  if (failure.status === 403 || (failure.code && AUTH_CODES.has(failure.code))) {
    return new UsageError(redact(`Access denied to ${address.uri}: ${authAdvice(where, now)} (${detail})`));
  }
  if (failure.status === 404 && failure.code === 'ContainerNotFound') {
    return new UsageError(
      redact(
        `Container "${address.container}" does not exist in storage account "${access.account}" (${access.endpoint}). ` +
          'Check the name; Azure Monitor writes to containers named insights-logs-<category>.',
      ),
    );
  }
  if (failure.status === 400 && during === 'list') {
    return new UsageError(
      redact(
        `The storage service refused to list ${address.uri} as an invalid request (${detail}). ` +
          'Check the source address (account, container and prefix) and the SAS or connection string.',
      ),
    );
  }
  if (failure.code === 'ENOTFOUND' || failure.code === 'EAI_AGAIN') {
    return new UsageError(
      redact(
        `Cannot resolve ${hostOf(access.endpoint)}: check the storage account name "${access.account}" and your DNS.`,
      ),
    );
  }
  return undefined;
}

/** What the open-time probe says when the endpoint stayed unreachable through its short retry budget. */
export function unreachable(error: ItemError, where: Where): UsageError {
  return new UsageError(
    redact(
      `Cannot reach ${where.access.endpoint} to list container "${where.address.container}": ${error.message}. ` +
        'Check the endpoint, the network, or that the emulator is running.',
    ),
  );
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
}
