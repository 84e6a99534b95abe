// `sluice serve`: the live page and /metrics over a real store that a worker (this test, through
// the store contract) writes to while the server reads it; safe by default on the network.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { Monitor } from '../src/serve/monitor.js';
import { type RunningServer, startServer } from '../src/serve/server.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { launch, visit } from './support/browser.js';
import { finished, sluice, start } from './support/cli.js';

const JOB = 'watched';
const OWNER = 'test-worker';
const TTL = 60_000;

/** A GET with the headers given as they are (fetch will not send a Host of our choosing). */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/** The URL `sluice serve` prints once it listens. */
function urlOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+\/) /.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${out}`)));
  });
}

/** A worker's commit of `ids`, through the store contract. */
async function commit(store: Store, ids: string[], owner = OWNER): Promise<void> {
  const leased = await store.leaseItems(JOB, owner, ids.length, TTL);
  const now = Date.now();
  const { committed } = await store.commitResults(JOB, owner, [
    {
      items: leased.map((i) => ({
        id: i.id,
        fence: i.fence,
        checkpoint: null,
        covered: i.size,
        records: 10,
        bytes: i.size,
        startedAt: now,
        finishedAt: now,
      })),
    },
  ]);
  assert.equal(committed, ids.length);
}

describe('sluice serve', () => {
  let dir: string;
  let dbPath: string;
  let writer: Store;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sluice-serve-'));
    dbPath = path.join(dir, 'sluice.db');
    writer = await openStore(dbPath);
    await writer.openJob({ name: JOB, source: 'file:/nowhere', task: 'azure-logs', filters: {} });
    await writer.addItems(
      JOB,
      Array.from({ length: 10 }, (_, i) => ({ id: `item-${String(i).padStart(2, '0')}`, size: 100 })),
    );
    await writer.heartbeat(JOB, OWNER, [], TTL);
    await commit(writer, ['item-00', 'item-01', 'item-02']);
  });

  after(async () => {
    await writer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 by default, and /metrics reports the items done that `status` reports', async () => {
    const child = start(['serve', '--store', dbPath, '--port', '0']);
    try {
      const url = await urlOf(child);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const status = await sluice(['status', '--store', dbPath, '--job', JOB, '--json']);
      assert.equal(status.code, 0, status.stderr);
      const items = JSON.parse(status.stdout).items;
      const scraped = await get(`${url}metrics`);
      assert.equal(scraped.status, 200);
      assert.match(String(scraped.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      for (const state of ['done', 'pending', 'leased', 'failed'])
        assert.equal(
          metric(scraped.body, 'sluice_job_items', `job="${JOB}",state="${state}"`),
          items[state],
          state,
        );
      assert.equal(metric(scraped.body, 'sluice_job_records_total', `job="${JOB}"`), 30);
      assert.equal(metric(scraped.body, 'sluice_job_bytes', `job="${JOB}",kind="done"`), 300);
    } finally {
      child.kill('SIGTERM');
    }
    const end = await finished(child);
    assert.equal(end.code, 0, end.stderr);
  });

  it('refuses to listen off loopback without a token (exit 2, saying how)', async () => {
    const run = await sluice(['serve', '--store', dbPath, '--host', '0.0.0.0', '--port', '0'], {
      env: { SLUICE_TOKEN: '' },
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--token/);
  });

  describe('over HTTP', () => {
    let reader: Store;
    let monitor: Monitor;
    let server: RunningServer;
    let browser: Browser;

    before(async () => {
      reader = await openStore(dbPath, { create: false, readOnly: true });
      monitor = new Monitor(reader, { pollMs: 100 });
      await monitor.start();
      server = await startServer({ monitor, port: 0 });
      browser = await launch();
    });

    after(async () => {
      await browser.close();
      monitor.stop();
      await server.close();
      await reader.close();
    });

    it('binds the loopback address only', () => {
      assert.equal(server.address.address, '127.0.0.1');
    });

    it('refuses a request whose Host is not its own (DNS rebinding) and answers its own names', async () => {
      const port = server.address.port;
      for (const host of [
        'evil.example:80',
        `evil.example:${port}`,
        '192.0.2.1',
        `127.0.0.1.evil.example:${port}`,
      ])
        assert.equal((await get(`${server.url}metrics`, { host })).status, 421, host);
      // HTTP/1.0 may leave Host out: refused too.
      const bare = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.end('GET /metrics HTTP/1.0\r\n\r\n'));
        let text = '';
        socket.on('data', (d: Buffer) => {
          text += d.toString();
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(bare, /^HTTP\/1\.1 421 /);
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
        assert.equal((await get(`${server.url}metrics`, { host })).status, 200, host);
      assert.equal((await get(`${server.url}favicon.ico`)).status, 204);
    });

    it('streams Server-Sent Events: a retry line, then snapshots with ids', async () => {
      const text = await new Promise<string>((resolve, reject) => {
        const req = request(`${server.url}events`, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => {
            body += d.toString();
            const data = body.indexOf('data:');
            if (data >= 0 && body.includes('\n\n', data)) {
              req.destroy();
              resolve(body);
            }
          });
        });
        req.on('error', reject);
        req.end();
      });
      assert.match(text, /^retry: \d+\n\nid: \d+\nevent: snapshot\ndata: \{/);
      const data = JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
      assert.equal(data.jobs[0].job, JOB);
    });

    it('loads in Chromium without a console error or an outside request, and shows a commit as it lands', async () => {
      const { page, errors, outside } = await visit(browser, server.url);
      const done = `[data-job="${JOB}"] [data-field="done"]`;
      await page.waitForSelector(done);
      const before = Number(await page.textContent(done));
      assert.equal(before, (await reader.status(JOB)).items.done);
      await commit(writer, ['item-03', 'item-04']);
      // Waits on the DOM (the page's CSP forbids evaluating strings in it, as it should).
      await page.waitForSelector(`${done}:text-is("${before + 2}")`);
      assert.equal(
        await page.textContent(`[data-job="${JOB}"] [data-field="records"]`),
        String((before + 2) * 10),
      );
      assert.deepEqual(errors, []);
      assert.deepEqual(outside, []);
    });
  });

  it('off loopback, takes its token once in the address as an HttpOnly cookie, and as a Bearer header on /metrics', async () => {
    const reader = await openStore(dbPath, { create: false, readOnly: true });
    const monitor = new Monitor(reader);
    await monitor.start();
    const server = await startServer({ monitor, host: '0.0.0.0', port: 0, token: 'open-sesame' });
    const base = `http://127.0.0.1:${server.address.port}/`;
    try {
      assert.equal((await get(base)).status, 401);
      assert.equal((await get(`${base}metrics`)).status, 401);
      assert.equal((await get(`${base}metrics`, { authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await get(`${base}metrics`, { authorization: 'Bearer open-sesame' })).status, 200);
      const entry = await get(`${base}?token=open-sesame`);
      assert.equal(entry.status, 303);
      assert.equal(entry.headers.location, '/');
      const cookie = String(entry.headers['set-cookie']);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      const page = await get(base, { cookie: cookie.split(';')[0] as string });
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>sluice<\/title>/);
    } finally {
      monitor.stop();
      await server.close();
      await reader.close();
    }
  });

  it('watches a PostgreSQL store that a worker elsewhere writes to', async (t) => {
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    const database = `sluice_serve_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.query(`CREATE DATABASE ${database}`);
    const url = `postgres://postgres@127.0.0.1:5432/${database}`;
    try {
      let worker: Store;
      try {
        worker = await openStore(url);
      } catch (error) {
        if (/not available in this build/.test(String(error)))
          return t.skip('this build has no PostgreSQL store yet');
        throw error;
      }
      const reader = await openStore(url, { create: false, readOnly: true });
      const monitor = new Monitor(reader, { pollMs: 100 });
      let server: RunningServer | undefined;
      try {
        await worker.openJob({ name: JOB, source: 'file:/elsewhere', task: 'azure-logs', filters: {} });
        await worker.addItems(JOB, [
          { id: 'a', size: 10 },
          { id: 'b', size: 10 },
          { id: 'c', size: 10 },
        ]);
        await worker.heartbeat(JOB, 'remote-worker', [], TTL);
        await commit(worker, ['a', 'b'], 'remote-worker');
        await monitor.start();
        server = await startServer({ monitor, port: 0 });
        const scraped = (await get(`${server.url}metrics`)).body;
        assert.equal(metric(scraped, 'sluice_job_items', `job="${JOB}",state="done"`), 2);
        assert.equal(metric(scraped, 'sluice_job_items', `job="${JOB}",state="pending"`), 1);
        assert.equal(metric(scraped, 'sluice_job_workers', `job="${JOB}",state="live"`), 1);
      } finally {
        monitor.stop();
        await server?.close();
        await reader.close();
        await worker.close();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });
});
