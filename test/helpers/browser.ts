import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium; CI installs it (`.ci/run`). Never a downloaded browser. */
export const chromiumPath = process.env.TWD_CHROMIUM ?? '/usr/bin/chromium';

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** what the pages logged as errors (uncaught exceptions, console.error, CSP refusals) */
  pageErrors: string[];
  close(): Promise<void>;
}

/**
 * Real headless Chromium with a fresh profile, at a laptop's size unless told otherwise. A
 * missing Chromium fails the test with how to install it: the console's tests never skip.
 */
export async function launchBrowser(viewport = { width: 1366, height: 768 }): Promise<TestBrowser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium is not installed at ${chromiumPath}; the console's end-to-end tests need it: apt-get install chromium (or set TWD_CHROMIUM)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'twd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  return {
    context,
    page,
    pageErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
