import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { unrecordedClickAnswer } from '../../src/hot/trackers.js';
import { launchChromium } from '../support/chromium.js';

/** The page of a click Tally could not record, in a real Chromium, as a person's click opens it. */

const CLICK = 'https://tally.test/clktr?id=7&cachebuster=1';
const LANDING = 'https://landing.example/page?a=1&b=%22';

let browser: Browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

describe('a click Tally could not record, in Chromium', () => {
  it('sends the person on from its 503 page to the landing page, the URL as it was', async () => {
    const answer = unrecordedClickAnswer(LANDING);
    assert.equal(answer.kind, 'body');
    if (answer.kind !== 'body') return;
    const page = await browser.newPage();
    const landed: string[] = [];
    await page.route(`${CLICK}*`, (route) =>
      route.fulfill({ status: answer.status, contentType: answer.contentType, body: answer.body }),
    );
    await page.route('https://landing.example/**', (route) => {
      landed.push(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<p>landed</p>' });
    });
    const first = await page.goto(CLICK);
    await page.waitForURL(LANDING, { timeout: 5_000 });
    assert.deepEqual([first?.status(), landed, await page.textContent('p')], [503, [LANDING], 'landed']);
    await page.close();
  });
});
