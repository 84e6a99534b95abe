// Reads a blob `<source>` (azure://account/container/prefix or an http(s) URL) into its parts.
import { UsageError } from '../../errors.js';
import { redact, registerSecret } from './redact.js';

/** Where a blob source lives. `endpoint` is set only when the address named one (an http(s) URL). */
export interface BlobAddress {
  account: string;
  container: string;
  /** Blob-name prefix, possibly empty; listing starts here. */
  prefix: string;
  /** SAS query string from the URL, without the leading `?`. */
  sas?: string;
  /** Blob service endpoint, e.g. `https://acct.blob.core.windows.net` or `http://127.0.0.1:10000/devstoreaccount1`. */
  endpoint?: string;
  /** The address as printed back: never includes the SAS. */
  uri: string;
}

const FORMS = [
  'azure://<account>/<container>[/<prefix>]',
  'https://<account>.blob.core.windows.net/<container>[/<prefix>][?<SAS>]',
  'http://127.0.0.1:10000/<account>/<container>[/<prefix>]  (emulator, path-style)',
];

const ACCOUNT_RE = /^[a-z0-9]{3,24}$/;
// Container names: 3-63 of a-z 0-9 and single hyphens, or the special $root / $logs containers.
const CONTAINER_RE = /^(?:[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}|\$root|\$logs)$/;

function bad(source: string, what: string): UsageError {
  return new UsageError(
    `${what} in source ${JSON.stringify(stripQuery(source))}.\nAccepted forms:\n  ${FORMS.join('\n  ')}`,
  );
}

/** The source as printed back: no query string (a SAS, or anything like one) and no user:password@. */
function stripQuery(text: string): string {
  const q = text.indexOf('?');
  return redact(q < 0 ? text : `${text.slice(0, q)}?<SAS redacted>`);
}

/** True when `source` names a blob container rather than a local folder. */
export function isBlobAddress(source: string): boolean {
  return /^(azure:\/\/|https?:\/\/)/i.test(source);
}

export function parseBlobAddress(source: string): BlobAddress {
  const text = source.trim();
  if (/^azure:\/\//i.test(text)) return parseAzureScheme(text);
  if (/^https?:\/\//i.test(text)) return parseUrl(text);
  throw bad(text, 'Not a blob address');
}

function check(source: string, account: string, container: string | undefined): string {
  if (!ACCOUNT_RE.test(account)) {
    throw bad(
      source,
      `Storage account ${JSON.stringify(account)} is not valid (3-24 lower-case letters and digits)`,
    );
  }
  if (!container) throw bad(source, 'No container named');
  if (!CONTAINER_RE.test(container)) {
    throw bad(
      source,
      `Container ${JSON.stringify(container)} is not valid (3-63 lower-case letters, digits and single hyphens)`,
    );
  }
  return container;
}

function parseAzureScheme(text: string): BlobAddress {
  if (text.includes('?')) {
    throw bad(
      text,
      'azure:// addresses take no query string; put a SAS in AZURE_STORAGE_SAS_TOKEN or use https://',
    );
  }
  // Not `new URL`: the prefix may hold characters a URL would re-encode, and names are case-sensitive.
  const [account = '', container, ...rest] = text.slice('azure://'.length).split('/');
  check(text, account, container);
  const prefix = rest.join('/');
  return {
    account,
    container: container as string,
    prefix,
    uri: joinPath(`azure://${account}/${container}`, prefix),
  };
}

function parseUrl(text: string): BlobAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(text, 'Not a valid URL');
  }
  if (url.username || url.password) throw bad(text, 'Credentials in the URL are not accepted');
  const segments = url.pathname.split('/').slice(1);
  // Host-style (`acct.blob.core.windows.net`, `acct.privatelink.blob...`, `acct.blob.localhost`) names the
  // account in the host; anything else (an IP, localhost, a proxy) is path-style like the emulator.
  const hostStyle = /^[a-z0-9]+\.(?:[a-z0-9-]+\.)*blob\./i.test(url.hostname);
  const account = hostStyle ? (url.hostname.split('.')[0] as string).toLowerCase() : (segments.shift() ?? '');
  const container = check(text, account, segments.shift());
  let prefix: string;
  try {
    prefix = segments.map(decodeURIComponent).join('/');
  } catch {
    throw bad(text, 'The blob prefix is not valid percent-encoding');
  }
  const endpoint = hostStyle ? url.origin : `${url.origin}/${account}`;
  const address: BlobAddress = {
    account,
    container,
    prefix,
    endpoint,
    uri: joinPath(`${endpoint}/${container}`, segments.join('/')),
  };
  const sas = url.search.replace(/^\?/, '');
  if (sas) {
    if (!/(?:^|&)sig=/.test(sas)) {
      throw bad(text, 'The query string is not a SAS (it has no sig=)');
    }
    registerSecret(sas);
    registerSecret(url.searchParams.get('sig') ?? undefined);
    address.sas = sas;
  }
  return address;
}

function joinPath(base: string, rest: string): string {
  return rest ? `${base}/${rest}` : base;
}
