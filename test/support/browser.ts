// Opens pages in Debian's Chromium through playwright-core, the way a user would, and collects
// what a page must not do: log a console error, throw, or ask anything of a server but its own.
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Visit {
  page: Page;
  /** Console errors and uncaught exceptions, as text. */
  errors: string[];
  /** Requests to anything but the page's own origin (or data:/blob: URLs), refused and listed. */
  outside: string[];
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Opens `url` in a fresh context, refusing (and recording) every request that leaves its origin. */
export async function visit(browser: Browser, url: string): Promise<Visit> {
  const origin = new URL(url).origin;
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  const outside: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await context.route('**/*', (route) => {
    const target = route.request().url();
    if (target.startsWith(origin) || target.startsWith('data:') || target.startsWith('blob:'))
      return route.continue();
    outside.push(target);
    return route.abort();
  });
  await page.goto(url);
  return { page, errors, outside };
}
