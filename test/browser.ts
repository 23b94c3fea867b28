// Headless Chromium for the pages' browser tests: Debian's /usr/bin/chromium driven by
// playwright-core (no browser download), the folder screenshots go to for people to look at, and
// what a page reports that it should not (console errors, uncaught errors, CSP violations).
/// <reference lib="dom" />
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(new URL('../test-results/screenshots', import.meta.url));

/** Launches headless Chromium (and makes the screenshots' folder); close it in an afterAll. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No ${CHROMIUM}: run \`bash scripts/setup.sh\` (or \`apt-get install chromium\`).`);
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
}

/**
 * Collects what `page` reports that a test should see: console errors, uncaught errors and Content
 * Security Policy violations (as console errors, from a listener added before any script runs).
 * Call before the page loads.
 */
export async function pageProblems(page: Page): Promise<string[]> {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) =>
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  return problems;
}
