// Starts a throwaway Azurite blob service (in memory, free port) for tests; fails loudly if it cannot.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Azurite {
  /** For devstoreaccount1 with its published key, at this instance's port. */
  connectionString: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  blobEndpoint: string;
  port: number;
  stop(): Promise<void>;
}

export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const BIN = fileURLToPath(new URL('../../node_modules/.bin/azurite-blob', import.meta.url));

export function connectionStringFor(blobEndpoint: string, key = DEV_KEY): string {
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint};`;
}

/** A port nobody listens on right now (another process may still take it before Azurite does: we retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: `/${DEV_ACCOUNT}?comp=list`, timeout: 1000 },
      (res) => {
        res.resume();
        resolve(true);
      },
    );
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function startOnce(
  port: number,
  workspace: string,
): Promise<{ child: ChildProcess; output: () => string }> {
  const args = [
    realpathSync(BIN),
    '--inMemoryPersistence',
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
    '--disableTelemetry',
  ];
  // In-memory Azurite takes no --location; the working directory catches anything it might still write.
  const child = spawn(process.execPath, args, { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const raced = await Promise.race([exited.then(() => 'exited' as const), answers(port)]);
    if (raced === 'exited') throw new Error(`azurite-blob exited on port ${port}:\n${output}`);
    if (raced) return { child, output: () => output };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`azurite-blob did not answer on port ${port} within 20 s:\n${output}`);
}

/** Spawns `azurite-blob` in memory on a free loopback port and waits until it answers HTTP. */
export async function startAzurite(): Promise<Azurite> {
  const workspace = mkdtempSync(join(tmpdir(), 'sluice-azurite-'));
  let lastError: unknown;
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    let started: Awaited<ReturnType<typeof startOnce>>;
    try {
      started = await startOnce(port, workspace);
    } catch (error) {
      lastError = error;
      if (!String(error).includes('EADDRINUSE')) break;
      continue;
    }
    const { child } = started;
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const blobEndpoint = `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
    return {
      port,
      blobEndpoint,
      connectionString: connectionStringFor(blobEndpoint),
      stop: async () => {
        process.removeListener('exit', killOnExit);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(workspace, { recursive: true, force: true });
      },
    };
  }
  rmSync(workspace, { recursive: true, force: true });
  throw new Error(`could not start Azurite: ${String(lastError)}`);
}
