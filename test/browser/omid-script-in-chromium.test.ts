import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { OMID_VERIFICATION_SCRIPT } from '../../src/hot/omid-script.js';
import { appendToHtml, omidScriptTag } from '../../src/domain/banner.js';
import { PIXEL_GIF } from '../../src/hot/responses.js';
import { launchChromium } from '../support/chromium.js';

/** Tally's OMID script in a real Chromium, as an app's web view renders an app banner. */

const NOTICE = 'https://tally.test/n/token';

/**
 * An OM SDK verification client in the page, as a verification vendor's script carries it:
 * `window.sent` holds what it was asked to send, `window.omidEmit(type, data)` plays an OM SDK event.
 */
const FAKE_CLIENT = `<script>
  window.sent = [];
  window.OmidVerificationClient = { '1.5.2-iab': function () {
    var listeners = {}, observers = [];
    this.isSupported = function () { return true; };
    this.registerSessionObserver = function (observer) { observers.push(observer); };
    this.addEventListener = function (type, listener) { (listeners[type] = listeners[type] || []).push(listener); };
    this.sendUrl = function (url) { window.sent.push(url); };
    window.omidEmit = function (type, data) {
      var event = { type: type, data: data || {} };
      (type.indexOf('session') === 0 ? observers : listeners[type] || []).forEach(function (f) { f(event); });
    };
  } };
</script>`;

/** The ad as Tally instruments an app banner: its markup, then Tally's script before `</body>`. */
function adPage(creative: string, beforeAd = ''): string {
  const script = `<script data-tally-notice="${NOTICE}">${OMID_VERIFICATION_SCRIPT}</script>`;
  return `<!doctype html><html><head>${beforeAd}</head><body style="margin:0">${creative}${script}</body></html>`;
}

/** A 320×50 banner placed on its own, out of the flow: `<body>` has no height. */
const POSITIONED_AD =
  '<div style="position:absolute;left:0;top:TOPpx;width:320px;height:50px;background:#c00">ad</div>';

let browser: Browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A 320×480 page that answers Tally's notice URL with the GIF, counting the requests. */
async function webView(): Promise<{ page: Page; notices: () => number }> {
  const page = await browser.newPage({ viewport: { width: 320, height: 480 } });
  let notices = 0;
  await page.route(`${NOTICE}*`, (route) => {
    notices++;
    return route.fulfill({ status: 200, contentType: 'image/gif', body: PIXEL_GIF });
  });
  return { page, notices: () => notices };
}

const SCRIPT_URL = 'https://tally.test/omid/verify.js';

/**
 * App banner markup that leaves SVG or MathML content open where Tally's tags go (at its end, or
 * around its last `</body>`), in which a `<script>` would be SVG's or MathML's and load nothing.
 */
const FOREIGN_CONTENT_LEFT_OPEN = [
  '<div>ad</div><svg><rect>',
  '<body><svg><g><style>a</body></html>',
  '<math><annotation-xml><svg><circle>',
  '<svg><foreignObject><div><svg><rect>',
  '<math><mrow><svg><math>',
  '<template><svg><![CDATA[a',
  '<svg><foreignObject>ad',
];

/** Lets the page run its observers and requests for a while. */
function settle(page: Page): Promise<void> {
  return page.waitForTimeout(300);
}

/**
 * Waits, up to 10 s, until the page has fired `count` notices (a loaded machine may take longer
 * than one `settle` to run the observers), then lets it settle so that any extra one is seen too.
 */
async function untilNotices(page: Page, notices: () => number, count: number): Promise<void> {
  for (let waitedMs = 0; notices() < count && waitedMs < 10_000; waitedMs += 50)
    await page.waitForTimeout(50);
  await settle(page);
}

describe("Tally's OMID script in Chromium", () => {
  it('fires the notice once through the OM SDK client on its impression event, never on load or the session start', async () => {
    const { page, notices } = await webView();
    await page.setContent(adPage(POSITIONED_AD.replace('TOP', '0'), FAKE_CLIENT), { waitUntil: 'load' });
    await page.evaluate("window.omidEmit('sessionStart'); window.omidEmit('loaded')");
    await settle(page);
    assert.deepEqual(
      await page.evaluate('window.sent'),
      [],
      'an ad on screen is not counted before the OM SDK says so',
    );
    await page.evaluate(
      "window.omidEmit('impression', { impressionType: 'onePixel' }); window.omidEmit('impression')",
    );
    assert.deepEqual(await page.evaluate('window.sent'), [NOTICE]);
    assert.equal(notices(), 0, 'sent through the client, not by the script itself');
    await page.close();
  });

  it('loads the OMID script Tally adds to markup that leaves SVG or MathML content open, as an HTML script', async () => {
    for (const markup of FOREIGN_CONTENT_LEFT_OPEN) {
      const page = await browser.newPage();
      let loads = 0;
      await page.route(SCRIPT_URL, (route) => {
        loads++;
        return route.fulfill({ status: 200, contentType: 'text/javascript', body: 'window.ran = true;' });
      });
      await page.setContent(appendToHtml(markup, [omidScriptTag(SCRIPT_URL, NOTICE)]), { waitUntil: 'load' });
      assert.deepEqual(
        [loads, await page.evaluate('window.ran === true')],
        [1, true],
        `the script was loaded and run after ${JSON.stringify(markup)}`,
      );
      await page.close();
    }
  });

  it('without an OM SDK client, fires once when one pixel of an ad positioned out of the flow is in the viewport', async () => {
    const { page, notices } = await webView();
    await page.setContent(adPage(POSITIONED_AD.replace('TOP', '0')), { waitUntil: 'load' });
    await untilNotices(page, notices, 1);
    assert.equal(notices(), 1);
    await page.close();
  });

  it('without an OM SDK client, fires nothing for an ad below the viewport until it is scrolled into view', async () => {
    const { page, notices } = await webView();
    await page.setContent(adPage(POSITIONED_AD.replace('TOP', '2000')), { waitUntil: 'load' });
    await settle(page);
    assert.equal(notices(), 0);
    await page.evaluate('window.scrollTo(0, 1800)');
    await untilNotices(page, notices, 1);
    assert.equal(notices(), 1);
    await page.close();
  });
});
