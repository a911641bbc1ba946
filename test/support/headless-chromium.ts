// Debian's chromium driven through playwright-core (no browser download), headless as root, without
// its background network chatter: the web UI tests' browser.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

export const CHROMIUM = process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches the browser; throws saying how to install it when it is missing. */
export async function launchHeadlessChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: run \`bash bin/setup.sh\` (apt-get install -y chromium), or set FERRY_CHROMIUM`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Registers beforeAll/afterAll (in the calling describe) that launch and close the browser. */
export function useHeadlessChromium(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchHeadlessChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('useHeadlessChromium: the browser is read before beforeAll ran');
    return browser;
  };
}

/**
 * Runs `fn` on a page logged in to the dashboard at `origin` (HTTP Basic), with every uncaught script
 * error of the page collected in `problems`; the context is closed afterwards, whatever happens.
 */
export async function withDashboardPage(
  browser: Browser,
  origin: string,
  login: { user: string; password: string },
  fn: (page: Page, problems: string[]) => Promise<void>,
): Promise<void> {
  const context = await browser.newContext({
    httpCredentials: { username: login.user, password: login.password, origin },
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  try {
    await fn(page, problems);
  } finally {
    await context.close();
  }
}
