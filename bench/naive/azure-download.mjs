// What users write against a storage account before sluice: list the container with the Azure
// SDK, then download and parse every blob: one at a time (concurrency 1, "the overnight script"),
// or N at once with a plain promise pool (the usual "make it parallel" fix; the benchmark tries
// 16, 64, 100 and 256).
// Usage: AZURE_STORAGE_CONNECTION_STRING=... node bench/naive/azure-download.mjs <container> <concurrency>
// Prints the summary as JSON, with how many blobs failed (after the SDK's own retries).
import { BlobServiceClient } from '@azure/storage-blob';
import { Tally } from './tally.mjs';

const [container, concurrencyText = '1'] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
if (!container || !connectionString || !(concurrency >= 1)) {
  console.error('usage: AZURE_STORAGE_CONNECTION_STRING=... azure-download.mjs <container> <concurrency>');
  process.exit(2);
}

/** The README's own helper for turning a download into a Buffer. */
async function streamToBuffer(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const client = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
const names = [];
for await (const blob of client.listBlobsFlat()) {
  if (blob.name.endsWith('PT1H.json')) names.push(blob.name);
}

const tally = new Tally();
let failed = 0;
let firstError;
let next = 0;
async function worker() {
  while (next < names.length) {
    const name = names[next++];
    try {
      const response = await client.getBlobClient(name).download();
      tally.blob((await streamToBuffer(response.readableStreamBody)).toString('utf8'));
    } catch (error) {
      failed += 1;
      firstError ??= `${name}: ${error?.message ?? error}`;
    }
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, worker));
process.stdout.write(`${JSON.stringify({ blobs: names.length, failed, firstError, ...tally.summary() })}\n`);
