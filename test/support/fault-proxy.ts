// A loopback HTTP proxy in front of Azurite that injects storage faults (throttling, resets, stalls) on a seeded share of requests.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultKind = 'busy503' | 'throttle429' | 'timeout500' | 'reset' | 'truncate' | 'stall';
export const ALL_FAULTS: FaultKind[] = ['busy503', 'throttle429', 'timeout500', 'reset', 'truncate', 'stall'];

export interface FaultSettings {
  /** Share of list and blob GET requests that get a fault, 0..1. Writes (uploads) are never faulted. */
  rate: number;
  kinds: FaultKind[];
  /** How long a stalled request hangs (headers not sent, or body half sent) before the proxy drops it. */
  stallMs: number;
  /** Added before forwarding every request: a fixed ms, or [min, max] drawn per request (benchmarks). */
  delayMs: number | [number, number];
}

export interface ProxyCounters {
  list: number;
  get: number;
  other: number;
  faults: Record<FaultKind, number>;
  /** The `prefix` of every list request, in arrival order. */
  listPrefixes: string[];
  /** Blob names of every GET, in arrival order. */
  gets: string[];
  /** The Range (or x-ms-range) header of every GET, '' when none. */
  ranges: string[];
}

export interface FaultProxy {
  port: number;
  /** The path-style endpoint to give a client: `http://127.0.0.1:<port>/<account>`. */
  endpoint(account: string): string;
  configure(settings: Partial<FaultSettings>): void;
  counters(): ProxyCounters;
  resetCounters(): void;
  close(): Promise<void>;
}

/** mulberry32: small, fast, good enough to make fault placement repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function emptyCounters(): ProxyCounters {
  return {
    list: 0,
    get: 0,
    other: 0,
    faults: { busy503: 0, throttle429: 0, timeout500: 0, reset: 0, truncate: 0, stall: 0 },
    listPrefixes: [],
    gets: [],
    ranges: [],
  };
}

// The bodies and headers Azure Storage sends, so the SDK parses them as it would in production.
const STORAGE_ERRORS = {
  busy503: { status: 503, code: 'ServerBusy', message: 'Operations per second is over the account limit.' },
  throttle429: {
    status: 429,
    code: 'TooManyRequests',
    message: 'Too many requests; retry after the given delay.',
  },
  timeout500: {
    status: 500,
    code: 'OperationTimedOut',
    message: 'Operation could not be completed within the specified time.',
  },
} as const;

function sendStorageError(res: http.ServerResponse, kind: keyof typeof STORAGE_ERRORS): void {
  const { status, code, message } = STORAGE_ERRORS[kind];
  const requestId = `00000000-0000-0000-0000-${String(Date.now()).padStart(12, '0').slice(-12)}`;
  const body =
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\n` +
    `RequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`;
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-ms-error-code': code,
    'x-ms-request-id': requestId,
    'x-ms-version': '2025-01-05',
  };
  if (kind === 'throttle429') headers['retry-after'] = '1';
  res.writeHead(status, headers);
  res.end(body);
}

type RequestKind = 'list' | 'get' | 'other';

function kindOf(req: http.IncomingMessage, url: URL): RequestKind {
  if (req.method !== 'GET' && req.method !== 'HEAD') return 'other';
  if (url.searchParams.get('comp') === 'list') return 'list';
  return url.searchParams.has('comp') || url.searchParams.has('restype') ? 'other' : 'get';
}

/** Starts the proxy on a free loopback port, forwarding to `target` (Azurite's host and port). */
export async function startFaultProxy(
  target: { host: string; port: number },
  settings: Partial<FaultSettings> & { seed?: number } = {},
): Promise<FaultProxy> {
  let current: FaultSettings = { rate: 0, kinds: ALL_FAULTS, stallMs: 3000, delayMs: 0, ...settings };
  const random = seededRandom(settings.seed ?? 1);
  let counters = emptyCounters();
  // No keep-alive upstream: a socket Azurite closes just as the proxy reuses it would be a fault nobody injected.
  const upstreamAgent = new http.Agent({ keepAlive: false });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const pickFault = (kind: RequestKind): FaultKind | undefined => {
    if (kind === 'other' || current.rate <= 0 || current.kinds.length === 0) return undefined;
    if (random() >= current.rate) return undefined;
    return current.kinds[Math.floor(random() * current.kinds.length)];
  };

  const delayFor = (): number => {
    const d = current.delayMs;
    return Array.isArray(d) ? d[0] + random() * (d[1] - d[0]) : d;
  };

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    onBody?: (upstream: http.IncomingMessage, body: Buffer) => void,
  ) => {
    const upstream = http.request(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `${target.host}:${target.port}` },
        agent: upstreamAgent,
      },
      (up) => {
        if (!onBody) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => onBody(up, Buffer.concat(chunks)));
      },
    );
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const kind = kindOf(req, url);
    counters[kind]++;
    if (kind === 'list') counters.listPrefixes.push(url.searchParams.get('prefix') ?? '');
    if (kind === 'get') {
      counters.gets.push(decodeURIComponent(url.pathname.split('/').slice(3).join('/')));
      counters.ranges.push(String(req.headers['x-ms-range'] ?? req.headers.range ?? ''));
    }
    const fault = pickFault(kind);
    const handle = () => {
      if (!fault) return forward(req, res);
      counters.faults[fault]++;
      switch (fault) {
        case 'busy503':
        case 'throttle429':
        case 'timeout500':
          req.resume();
          return sendStorageError(res, fault);
        case 'reset':
          return req.socket.destroy();
        case 'truncate':
        case 'stall':
          // Headers and half the body, then the connection dies (truncate) or goes silent (stall).
          return forward(req, res, (up, body) => {
            // The whole body is known now: announce its length (as Azure does for blobs), not chunked framing.
            const { 'transfer-encoding': _chunked, ...rest } = up.headers;
            const headers = { ...rest, 'content-length': String(body.length) };
            if (body.length < 2) {
              // Nothing to cut in half: fail before the headers instead, so the fault is still seen.
              if (fault === 'truncate') req.socket.destroy();
              else later(current.stallMs, () => req.socket.destroy());
              return;
            }
            if (fault === 'stall' && random() < 0.5) {
              later(current.stallMs, () => req.socket.destroy());
              return;
            }
            res.writeHead(up.statusCode ?? 502, headers);
            res.write(body.subarray(0, Math.floor(body.length / 2)));
            if (fault === 'truncate') later(5, () => req.socket.destroy());
            else later(current.stallMs, () => req.socket.destroy());
          });
      }
    };
    const delay = delayFor();
    if (delay > 0) later(delay, handle);
    else handle();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Longer than any test, so a client never races the proxy closing an idle connection.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    endpoint: (account) => `http://127.0.0.1:${port}/${account}`,
    configure: (next) => {
      current = { ...current, ...next };
    },
    counters: () => structuredClone(counters),
    resetCounters: () => {
      counters = emptyCounters();
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      upstreamAgent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
