// `sluice analyze --format html` in a real browser (Debian's Chromium): the page loads with no
// console error, makes no request of any kind beyond its own file, shows --format json's numbers,
// draws its charts inline and sorts tables on a click.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { sluice } from './support/cli.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/analyze');

function at(object: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
}

describe('analyze HTML page', () => {
  let dir: string;
  let browser: Browser;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-html-'));
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is self-contained, error-free, and shows the numbers of --format json', async () => {
    // Log text that would load something, run a script or break the layout if it were not escaped.
    const hostile = path.join(dir, 'hostile.log');
    await writeFile(
      hostile,
      [
        '2025-03-02 10:00:00,000 ERROR [main] a.B: <img src="http://198.51.100.7/x.png"> failed </td></table><script>document.title="pwned"</script>',
        '2025-03-02 10:00:01,000 ERROR [main] a.B: bell \x07 and "quotes" & <style>body{display:none}</style>',
      ].join('\n'),
    );
    const html = await sluice(['analyze', FIXTURES, hostile, '--format', 'html']);
    assert.equal(html.code, 0, html.stderr);
    const json = await sluice(['analyze', FIXTURES, hostile, '--format', 'json']);
    const analysis = JSON.parse(json.stdout) as Record<string, unknown>;
    const file = path.join(dir, 'report.html');
    await writeFile(file, html.stdout);

    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url === pathToFileURL(file).href) return route.continue();
      requests.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('section#summary');

    const shown = await page.$$eval('[data-key]', (nodes) =>
      nodes.map((n) => [n.getAttribute('data-key') ?? '', n.textContent ?? '']),
    );
    assert.ok(shown.length >= 6, 'headline figures are marked with data-key');
    for (const [key, text] of shown) {
      const expected =
        key === 'lines'
          ? (analysis.files as { lines: number }[]).reduce((s, f) => s + f.lines, 0)
          : at(analysis, key);
      assert.equal(text, String(expected), key);
    }
    const charts = await page.$$eval('figure.chart svg', (svgs) => svgs.length);
    assert.ok(charts >= 4, `charts inline as SVG (${charts})`);

    // A click on a header sorts its column, numbers as numbers.
    const templates = page.locator('section#templates table');
    await templates.locator('th', { hasText: 'count' }).click();
    const counts = (await templates.locator('tbody tr td:nth-child(2)').allTextContents()).map(Number);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => a - b),
    );

    assert.equal(await page.title(), 'sluice analyze', 'no script from the logs ran');
    assert.ok(await page.locator('section#errors').isVisible());
    assert.match((await page.locator('section#errors').textContent()) ?? '', /<img src=/);
    assert.deepEqual(problems, [], 'no console errors');
    assert.deepEqual(requests, [], 'no request leaves the page');
    await page.close();
  });
});
