import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer } from './server.js';
import type { TestServer } from './server.js';
import { CHROME } from './user-agents.js';

/** Debian's Chromium (`apt-get install -y chromium`), or the one `TALLY_CHROMIUM` names. */
const CHROMIUM_PATH = process.env.TALLY_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, and quiet: no sandbox (CI runs as root), no GPU, no network of its own. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Starts a real headless Chromium; fails, saying what to install, when there is none. */
export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS });
  } catch (error) {
    throw new Error(
      `could not start Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set TALLY_CHROMIUM): ${String(error)}`,
    );
  }
}

/** Tally and a Chromium context that presents a browser's User-Agent, for one test file. */
export interface TallyInChromium {
  tally(): TestServer;
  context(): BrowserContext;
}

/**
 * Starts Tally and Chromium before the file's tests and closes both after them. The context sends
 * a desktop Chrome's User-Agent: a headless browser's own is a bot's, which Tally rightly does not
 * count.
 */
export function tallyInChromium(): TallyInChromium {
  let tally: TestServer | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  before(async () => {
    tally = await startServer();
    browser = await launchChromium();
    context = await browser.newContext({ userAgent: CHROME });
  });
  after(async () => {
    await browser?.close();
    await tally?.dispose();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('Tally and Chromium start before the tests');
    return value;
  };
  return { tally: () => started(tally), context: () => started(context) };
}

/** The errors a page logs on its console or throws, in the order they happen, from now on. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return problems;
}
