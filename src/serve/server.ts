// The HTTP side of `sluice serve`: the live page, its Server-Sent Events, Prometheus /metrics.
// Safe by default: loopback only; a Host header that is not the server's own is refused (DNS
// rebinding); on any other address a token is required, given once and kept as an HttpOnly cookie.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { UsageError } from '../errors.js';
import { createMetrics } from './metrics.js';
import type { Monitor, Snapshot } from './monitor.js';
import { renderPage } from './page.js';

export interface ServeOptions {
  monitor: Monitor;
  /** Address to bind. Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Port; 0 picks any free one. Default 8642. */
  port?: number;
  /** Required when `host` is not a loopback address. */
  token?: string;
  /** Milliseconds between SSE comment heartbeats (keep proxies from closing an idle stream). Default 15,000. */
  heartbeatMs?: number;
}

export const SERVE_DEFAULTS = { host: '127.0.0.1', port: 8642, heartbeatMs: 15_000 } as const;

/** How long a browser waits before reconnecting a dropped event stream, ms (the SSE `retry:` line). */
const RETRY_MS = 2000;
const COOKIE = 'sluice_token';

export interface RunningServer {
  /** The page's address (never with the token). */
  url: string;
  address: AddressInfo;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** `host:port` as a Host header or URL writes it (IPv6 in brackets). */
function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`.toLowerCase();
}

/** The Host headers this server answers to: its loopback names, its bound address, and for a wildcard bind, this machine's. */
function allowedHosts(bound: string, port: number): Set<string> {
  const names = ['127.0.0.1', 'localhost', '::1', bound];
  if (bound === '0.0.0.0' || bound === '::') {
    names.push(hostname());
    for (const addresses of Object.values(networkInterfaces()))
      for (const a of addresses ?? []) names.push(a.address);
  }
  return new Set(names.map((n) => hostPort(n, port)));
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(`${text}\n`);
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? SERVE_DEFAULTS.host;
  const token = options.token || undefined;
  if (!isLoopback(host) && !token) {
    throw new UsageError(
      `serving on ${host} makes the page reachable from other machines: give a token with --token <secret> (or $SLUICE_TOKEN), or keep the default --host 127.0.0.1`,
    );
  }
  const { monitor } = options;
  const heartbeatMs = options.heartbeatMs ?? SERVE_DEFAULTS.heartbeatMs;
  const metrics = createMetrics(monitor);
  const streams = new Set<ServerResponse>();
  let eventId = 0;
  let latest: Snapshot = monitor.snapshot;
  const onChange = (s: Snapshot) => {
    latest = s;
    eventId += 1;
    for (const res of streams) res.write(event(s));
  };
  const event = (s: Snapshot) => `id: ${eventId}\nevent: snapshot\ndata: ${JSON.stringify(s)}\n\n`;
  monitor.on('change', onChange);
  let allowed = new Set<string>();

  const authorised = (req: IncomingMessage, url: URL): boolean => {
    if (!token) return true;
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = cookie(req, COOKIE) ?? url.searchParams.get('token') ?? bearer;
    return given !== undefined && given !== null && sameSecret(given, token);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!allowed.has((req.headers.host ?? '').toLowerCase())) {
      send(
        res,
        421,
        `this server answers only to ${[...allowed].slice(0, 4).join(', ')}: open it by one of those addresses`,
      );
      return;
    }
    const url = new URL(req.url ?? '/', 'http://sluice.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'only GET', { allow: 'GET, HEAD' });
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'max-age=86400' });
      res.end();
      return;
    }
    if (!authorised(req, url)) {
      send(
        res,
        401,
        'this server needs its token: open the page once with ?token=<token>, or send Authorization: Bearer <token>',
      );
      return;
    }
    // A token in the address becomes a cookie, and leaves the address (history, logs, Referer).
    if (token && url.searchParams.has('token')) {
      url.searchParams.delete('token');
      res.writeHead(303, {
        location: `${url.pathname}${url.search}`,
        'set-cookie': `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
      });
      res.end();
      return;
    }
    if (url.pathname === '/') {
      const nonce = randomBytes(16).toString('base64');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // Nothing but this server: no CDN, no font, no image from elsewhere.
        'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(renderPage(nonce));
      return;
    }
    if (url.pathname === '/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: ${RETRY_MS}\n\n`);
      res.write(event(latest));
      streams.add(res);
      const beat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
      res.on('close', () => {
        clearInterval(beat);
        streams.delete(res);
      });
      return;
    }
    if (url.pathname === '/metrics') {
      await monitor.refresh();
      res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
      res.end(await metrics.metrics());
      return;
    }
    if (url.pathname === '/snapshot.json') {
      const s = await monitor.refresh();
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(s));
      return;
    }
    send(res, 404, `nothing at ${url.pathname}: the page is at /, metrics at /metrics`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        send(res, 500, `sluice serve: ${error instanceof Error ? error.message : String(error)}`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UsageError(
              `port ${options.port} on ${host} is in use: choose another with --port, or --port 0 for any free one`,
            )
          : error.code === 'EADDRNOTAVAIL'
            ? new UsageError(`${host} is not an address of this machine: give another --host`)
            : error,
      ),
    );
    server.listen(options.port ?? SERVE_DEFAULTS.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  allowed = allowedHosts(host, address.port);
  const shown = host === '0.0.0.0' || host === '::' ? hostname() : host;
  return {
    url: `http://${hostPort(shown, address.port)}/`,
    address,
    close: async () => {
      monitor.off('change', onChange);
      for (const res of streams) res.end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
