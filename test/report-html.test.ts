// `report --format html` (src/report/html.ts on the shared src/render page) in Chromium: the page of
// a real job loads with no console error and no outside request, is small, and shows the numbers
// of `report --format json`.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { readJob } from '../src/query/job.js';
import { renderReportHtml } from '../src/report/html.js';
import { openStore } from '../src/store/index.js';
import type { JobStatus } from '../src/store/types.js';
import type { Report } from '../src/tasks/azure-logs/report/build.js';
import { azureLogsSections } from '../src/tasks/azure-logs/report/html.js';
import { sharesThatAddUp } from '../src/tasks/azure-logs/report/text.js';
import { launch, visit } from './support/browser.js';
import { sluice } from './support/cli.js';
import { synthJob } from './support/job.js';

function at(object: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
}

describe('report --format html', () => {
  let dir: string;
  let browser: Browser;
  let json: Record<string, unknown>;
  let report: Report;
  let status: JobStatus;
  let storePath: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sluice-report-html-'));
    const job = await synthJob(dir, { job: 'june', days: 3, seed: 9 });
    json = job.report;
    storePath = job.store;
    const store = await openStore(job.store, { create: false, readOnly: true });
    try {
      const view = await readJob(store, 'june');
      report = view.report as Report;
      status = view.status;
    } finally {
      await store.close();
    }
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads in Chromium without a console error or an outside request, under 1 MB, with the numbers of --format json', async () => {
    // Through the command, as users make it.
    const file = path.join(dir, 'report.html');
    const made = await sluice([
      'report',
      '--store',
      storePath,
      '--job',
      'june',
      '--format',
      'html',
      '--out',
      file,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const html = await readFile(file, 'utf8');
    assert.ok(Buffer.byteLength(html) < 1_000_000, `${Buffer.byteLength(html)} bytes`);
    const { page, errors, outside } = await visit(browser, pathToFileURL(file).href);
    await page.waitForSelector('section#records');
    const shown = await page.$$eval('[data-key]', (nodes) =>
      nodes.map((n) => [n.getAttribute('data-key') ?? '', n.textContent ?? '']),
    );
    const keys = shown.map(([k]) => k);
    for (const key of [
      'records',
      'statusClasses.rateLimited',
      'statusClasses.serverError',
      'items.done',
      'latencyMs.p95',
      'timeRange.first',
    ])
      assert.ok(keys.includes(key), `${key} shown`);
    for (const [key, text] of shown) {
      const expected = at(json, key as string);
      assert.equal(
        typeof expected === 'number' ? Number((text as string).replaceAll(',', '')) : text,
        expected ?? '-',
        key,
      );
    }
    // 429s per day and per model, as the JSON has them.
    const days = await page.$$eval('section#days tbody tr', (rows) =>
      rows.map((r) => [r.cells[0]?.textContent, Number(r.cells[3]?.textContent)]),
    );
    assert.deepEqual(
      days,
      (json.byDay as { day: string; rateLimited: number }[]).map((d) => [d.day, d.rateLimited]),
    );
    const charts = await page.$$eval('figure.chart svg', (svgs) => svgs.length);
    assert.ok(charts >= 3, `charts inline as SVG (${charts})`);
    assert.deepEqual(errors, []);
    assert.deepEqual(outside, []);
  });

  it('shows status-class shares that add up to 100 %', () => {
    const classes = report.statusClasses;
    const shares = sharesThatAddUp([
      classes.success,
      classes.rateLimited,
      classes.clientError,
      classes.serverError,
      classes.noStatus,
    ]);
    assert.equal(Math.round(shares.reduce((a, b) => a + b, 0) * 10), 1000);
    assert.deepEqual(sharesThatAddUp([1, 1, 1]), [33.4, 33.3, 33.3]);
    const html = renderReportHtml({ report, status, sections: azureLogsSections(report) });
    for (const share of shares) assert.ok(html.includes(`· ${share.toFixed(1)} %`), `${share}`);
  });

  it("a task without sections of its own shows its report's lists as tables (counts with a chart), and every job its runs", () => {
    const html = renderReportHtml({ report, status });
    assert.match(html, /<h2>by_model<\/h2>/);
    // A map of counts gets a bar chart over its table.
    assert.match(html, /<h2>status_codes<\/h2><figure class="chart"[^>]*><svg/);
    assert.match(html, /<h2>Run history<\/h2>/);
    assert.match(html, /<h2>Items<\/h2>/);
  });
});
