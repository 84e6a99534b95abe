// One HTTP agent, one credential and one BlobServiceClient per endpoint for the whole process, shared by all sources.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  AnonymousCredential,
  BlobServiceClient,
  newPipeline,
  type PipelineLike,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type { BlobAccess } from './credential.js';
import { ListingContainerClient } from './page.js';

/** Sockets per host for the shared agent; the governor, not the socket pool, should be what limits concurrency. */
export const DEFAULT_MAX_SOCKETS = 64;

type Credential = Parameters<typeof newPipeline>[0];

const agents: { http?: http.Agent; https?: https.Agent } = {};
const clients = new Map<string, BlobServiceClient>();
/** Each shared client's pipeline, for the container clients made from it (the SDK keeps it protected). */
const pipelines = new WeakMap<BlobServiceClient, PipelineLike>();
let defaultCredential: Promise<Credential> | undefined;

export interface HttpOptions {
  /** Used when the process-wide agent is first created; later values are ignored (one pool per process). */
  maxSockets?: number;
}

function agentFor(endpoint: string, options: HttpOptions): http.Agent {
  const secure = endpoint.startsWith('https:');
  // LIFO reuses the warmest sockets and lets idle ones time out when concurrency drops.
  const settings = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
    scheduling: 'lifo' as const,
  };
  if (secure) {
    agents.https ??= new https.Agent(settings);
    return agents.https;
  }
  agents.http ??= new http.Agent(settings);
  return agents.http;
}

/** DefaultAzureCredential caches tokens; one per process means one login, however many sources open. */
function sharedDefaultCredential(): Promise<Credential> {
  // Loaded on first use: @azure/identity is large and most runs (local folders, keys, SAS) never need it.
  defaultCredential ??= import('@azure/identity').then(
    ({ DefaultAzureCredential }) => new DefaultAzureCredential(),
  );
  return defaultCredential;
}

function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

/** Same endpoint and same credential → same client; the key holds a hash, never the secret. */
function cacheKey(access: BlobAccess): string {
  const secret = access.accountKey ?? access.sas ?? '';
  return `${access.endpoint}|${access.kind}|${access.account}|${fingerprint(secret)}`;
}

/**
 * The shared client for `access`. Its pipeline sends through the process-wide keep-alive agent with bounded
 * sockets, and has the SDK's retry policy switched off (`maxTries: 1`): the SDK's policy skips 429, has no
 * jitter and ignores Retry-After, and two retry layers would multiply tries and hide them from our counters.
 */
export async function blobServiceClientFor(
  access: BlobAccess,
  options: HttpOptions = {},
): Promise<BlobServiceClient> {
  const key = cacheKey(access);
  const cached = clients.get(key);
  if (cached) return cached;
  let credential: Credential;
  if (access.kind === 'key')
    credential = new StorageSharedKeyCredential(access.account, access.accountKey ?? '');
  else if (access.kind === 'sas') credential = new AnonymousCredential();
  else credential = await sharedDefaultCredential();
  // `agent` is a core-rest-pipeline PipelineOptions field that the storage pipeline passes through.
  const pipelineOptions: StoragePipelineOptions & { agent: http.Agent } = {
    retryOptions: { maxTries: 1 },
    keepAliveOptions: { enable: true },
    userAgentOptions: { userAgentPrefix: 'sluice' },
    agent: agentFor(access.endpoint, options),
  };
  const url = access.sas ? `${access.endpoint}?${access.sas}` : access.endpoint;
  // Every ContainerClient and BlobClient derived from this one reuses its pipeline object, hence one HTTP stack.
  const existing = clients.get(key);
  if (existing) return existing;
  const pipeline = newPipeline(credential, pipelineOptions);
  const client = new BlobServiceClient(url, pipeline);
  clients.set(key, client);
  pipelines.set(client, pipeline);
  return client;
}

/** A client for one container of the shared service client, on its pipeline, that lists pages fast. */
export async function containerClientFor(
  access: BlobAccess,
  container: string,
  options: HttpOptions = {},
): Promise<ListingContainerClient> {
  const service = await blobServiceClientFor(access, options);
  const pipeline = pipelines.get(service);
  if (!pipeline) throw new Error('internal: a shared blob client without its pipeline');
  return new ListingContainerClient(service.getContainerClient(container).url, pipeline);
}

/** Forgets the clients and closes the pooled sockets (tests, or a CLI that wants a prompt exit). */
export function closeBlobClients(): void {
  clients.clear();
  agents.http?.destroy();
  agents.https?.destroy();
  agents.http = undefined;
  agents.https = undefined;
}
