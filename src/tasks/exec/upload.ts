// `--upload azure://account/container/prefix`: after a command succeeded, its item's output folder
// goes to `<prefix>/<id>/...` as block blobs, before the item commits; a failed upload fails the attempt.
// The address, credential, client and retries are the Azure source's own (src/sources/azure/).
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { parseBlobAddress } from '../../sources/azure/address.js';
import { blobServiceClientFor } from '../../sources/azure/client.js';
import { resolveAccess } from '../../sources/azure/credential.js';
import { explainFatal } from '../../sources/azure/fatal.js';
import { configureAzureLogging } from '../../sources/azure/logging.js';
import { classifyFailure, DEFAULT_RETRY, describeFailure, withRetry } from '../../sources/azure/retry.js';

export interface Upload {
  /** Printable, no secret. */
  readonly uri: string;
  /** Uploads every file under `folder` to `<prefix>/<id>/<relative path>`. */
  put(id: string, folder: string, signal: AbortSignal): Promise<void>;
}

async function* filesUnder(root: string, relative = ''): AsyncGenerator<string> {
  for (const entry of await readdir(path.join(root, relative), { withFileTypes: true })) {
    const name = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* filesUnder(root, name);
    else if (entry.isFile()) yield name;
  }
}

/** Checks the address and credential now (a UsageError before any item runs), creating the container if missing. */
export async function openUpload(uri: string, options: { connectionString?: string } = {}): Promise<Upload> {
  configureAzureLogging(false);
  const address = parseBlobAddress(uri);
  const access = resolveAccess(address, options);
  const service = await blobServiceClientFor(access);
  const container: ContainerClient = service.getContainerClient(address.container);
  const where = { address, access };
  try {
    await withRetry({ what: `opening ${address.uri}`, options: DEFAULT_RETRY }, (abortSignal) =>
      container.createIfNotExists({ abortSignal }),
    );
  } catch (error) {
    throw explainFatal(error, where) ?? error;
  }
  const prefix =
    address.prefix === '' || address.prefix.endsWith('/') ? address.prefix : `${address.prefix}/`;
  return {
    uri: address.uri,
    async put(id, folder, signal) {
      for await (const name of filesUnder(folder)) {
        const blob = `${prefix}${id}/${name}`;
        try {
          await withRetry({ what: `uploading ${blob}`, options: DEFAULT_RETRY, signal }, (abortSignal) =>
            container.getBlockBlobClient(blob).uploadFile(path.join(folder, name), { abortSignal }),
          );
        } catch (error) {
          const fatal = explainFatal(error, where);
          if (fatal) throw fatal;
          throw new Error(
            `uploading ${blob} to ${address.uri} failed: ${describeFailure(classifyFailure(error))}`,
          );
        }
      }
    },
  };
}
