// Uploads a local folder of log blobs into a container, names kept, as append blobs like the ones
// Azure Monitor writes (used by `demo --azure`, tests and benchmarks).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';

/** Most the service takes in one append: 4 MiB on every API version. */
const APPEND_LIMIT = 4 * 1024 * 1024;

async function* files(root: string, relative = ''): AsyncGenerator<string> {
  for (const entry of await readdir(path.join(root, relative), { withFileTypes: true })) {
    const id = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* files(root, id);
    else if (entry.isFile()) yield id;
  }
}

export interface UploadOptions {
  /** Which relative paths to upload; all files when absent. */
  include?: (id: string) => boolean;
  /** Uploads at once. */
  concurrency?: number;
  onProgress?: (uploaded: number, bytes: number) => void;
}

/** Uploads every file under `root` to `container` (created if missing). Returns blobs and bytes uploaded. */
export async function uploadFolder(root: string, container: ContainerClient, options: UploadOptions = {}) {
  await container.createIfNotExists();
  const names = files(root);
  let uploaded = 0;
  let bytes = 0;
  const worker = async () => {
    for (;;) {
      const next = await names.next();
      if (next.done) return;
      const id = next.value;
      if (options.include && !options.include(id)) continue;
      const body = await readFile(path.join(root, id));
      const blob = container.getAppendBlobClient(id);
      await blob.create();
      for (let at = 0; at < body.length; at += APPEND_LIMIT) {
        const part = body.subarray(at, Math.min(body.length, at + APPEND_LIMIT));
        await blob.appendBlock(part, part.length);
      }
      uploaded += 1;
      bytes += body.length;
      options.onProgress?.(uploaded, bytes);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  return { blobs: uploaded, bytes };
}
