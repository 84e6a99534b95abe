// Starts a throwaway Azurite blob service (the Azure Storage emulator from npm) in memory on a free
// loopback port, for `demo --azure`, tests and benchmarks; fails loudly if it cannot.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';

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

/** azurite-blob's entry script, wherever npm put the package; a usage error when it is not installed. */
function azuriteBlobScript(): string {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve('azurite/package.json');
  } catch {
    throw new UsageError(
      'the Azure Storage emulator (Azurite) is not installed: run `npm install azurite`, or `npm ci` in the sluice repository',
    );
  }
  const bin = (require(manifest) as { bin: Record<string, string> }).bin['azurite-blob'];
  if (!bin) throw new UsageError(`the installed Azurite (${manifest}) has no azurite-blob program`);
  return join(dirname(manifest), bin);
}

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
  script: string,
): Promise<{ child: ChildProcess; output: () => string }> {
  const args = [
    realpathSync(script),
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
  const script = azuriteBlobScript();
  const workspace = mkdtempSync(join(tmpdir(), 'sluice-azurite-'));
  let lastError: unknown;
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    let started: Awaited<ReturnType<typeof startOnce>>;
    try {
      started = await startOnce(port, workspace, script);
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
