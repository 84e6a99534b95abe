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

/** Opens `url` (http: or file:) in a fresh context, refusing (and recording) every request that leaves it. */
export async function visit(browser: Browser, url: string): Promise<Visit> {
  // A file: page may load only itself; an http page, its own origin.
  const own = url.startsWith('file:')
    ? (target: string) => target === url
    : (target: string) => target.startsWith(new URL(url).origin);
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
    if (own(target) || target.startsWith('data:') || target.startsWith('blob:')) return route.continue();
    outside.push(target);
    return route.abort();
  });
  await page.goto(url);
  return { page, errors, outside };
}
