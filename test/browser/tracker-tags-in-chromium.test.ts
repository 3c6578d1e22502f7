import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pageProblems, tallyInChromium } from '../support/chromium.js';
import { api } from '../support/server.js';

/**
 * Exported impression tracker tags as an ad server serves them, in a real Chromium: their macros
 * filled as Google Ad Manager fills them, pasted into a page, into a friendly iframe the ad
 * server writes from a script string, and into an iframe's srcdoc attribute (escaped once more).
 */

const running = tallyInChromium();

/** The next vendor's pixel and script in the chain, which Tally's `redir` sends the browser to. */
let chain: Server;
let chainUrl: string;
const chained: string[] = [];

before(async () => {
  chain = createServer((req, res) => {
    chained.push(req.url ?? '');
    const script = (req.url ?? '').startsWith('/tag.js');
    res.writeHead(200, { 'content-type': script ? 'text/javascript' : 'image/gif' });
    res.end(script ? 'window.chained = (window.chained || 0) + 1;\n' : '');
  });
  await new Promise<void>((resolve) => chain.listen(0, '127.0.0.1', resolve));
  chainUrl = `http://127.0.0.1:${(chain.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => chain.close(() => resolve())));

async function created(path: string, body: object): Promise<number> {
  const tally = running.tally();
  const answer = await api(tally, tally.adminKey, 'POST', path, body);
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.id as number;
}

async function exportedTag(trackerId: number, type: 'pixel' | 'javascript'): Promise<string> {
  const tally = running.tally();
  const answer = await api(tally, tally.adminKey, 'POST', `/v1/impression-trackers/${trackerId}/export`, {
    type,
    secure: false,
    params: ['cachebuster', 'ancost', 'redir'],
    placeholders: 'gam',
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.tags[0].tag as string;
}

/** `tag` as the ad server serves it: its cachebuster filled, the cost and next hop typed in by ad ops. */
function filled(tag: string, cachebuster: string, next: string): string {
  return tag
    .replace('%%CACHEBUSTER%%', cachebuster)
    .replace('[ANCOST]', '0.002')
    .replace('[REDIRECT_URL]', next.replaceAll('&', '&amp;'));
}

function attribute(html: string): string {
  return html.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
}

describe('exported impression tracker tags in Chromium', () => {
  it('fire once each from a page, a friendly iframe written by script and an iframe srcdoc, are counted at their ancost, and send the browser on to the next hop', async () => {
    const advertiserId = await created('/v1/advertisers', { name: 'Acme' });
    const lineItemId = await created('/v1/line-items', {
      advertiserId,
      name: 'CPM 3',
      revenueType: 'cpm',
      revenueValue: 3,
    });
    const publisherId = await created('/v1/publishers', { name: 'News' });
    await created('/v1/payment-rules', {
      publisherId,
      name: 'Base',
      pricingType: 'revshare',
      revshare: 0.5,
    });
    const trackerId = await created('/v1/impression-trackers', {
      advertiserId,
      name: 'Homepage',
      lineItemId,
      publisherId,
    });
    const pixel = await exportedTag(trackerId, 'pixel');
    const script = await exportedTag(trackerId, 'javascript');
    const nextPixel = `${chainUrl}/px.gif?a=1&b=2`;
    const nextScript = `${chainUrl}/tag.js?a=1&b=2`;
    const written = (cachebuster: string) =>
      JSON.stringify(
        filled(pixel, `${cachebuster}1`, nextPixel) + filled(script, `${cachebuster}2`, nextScript),
      )
        // A script string in HTML ends no script element early.
        .replaceAll('</', '<\\/');
    const page = await running.context().newPage();
    const problems = pageProblems(page);
    try {
      await page.setContent(
        filled(pixel, '1001', nextPixel) +
          filled(script, '1002', nextScript) +
          `<iframe id="friendly"></iframe><script>
             const frame = document.getElementById('friendly').contentDocument;
             frame.open(); frame.write(${written('200')}); frame.close();
           </script>` +
          `<iframe id="srcdoc" srcdoc="${attribute(filled(pixel, '3001', nextPixel) + filled(script, '3002', nextScript))}"></iframe>`,
        { waitUntil: 'load' },
      );
      // Each document's script tag has sent the browser on to the next hop's script.
      const counts = `[window, ...[...document.querySelectorAll('iframe')].map((frame) => frame.contentWindow)]
        .map((scope) => scope.chained ?? 0)`;
      await page
        .waitForFunction(`${counts}.every((count) => count === 1)`, undefined, { timeout: 5_000 })
        .catch(() => undefined);
      const chainedCounts: unknown = await page.evaluate(counts);
      // And each pixel to the next hop's pixel, which the page does not wait for.
      for (let waitedMs = 0; chained.length < 6 && waitedMs < 5_000; waitedMs += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(chainedCounts, [1, 1, 1]);
    } finally {
      await page.close();
    }
    assert.deepEqual(problems, []);
    assert.deepEqual(chained.sort(), [
      '/px.gif?a=1&b=2',
      '/px.gif?a=1&b=2',
      '/px.gif?a=1&b=2',
      '/tag.js?a=1&b=2',
      '/tag.js?a=1&b=2',
      '/tag.js?a=1&b=2',
    ]);

    const tally = running.tally();
    const hourMs = 3_600_000;
    const thisHourMs = Math.floor(Date.now() / hourMs) * hourMs;
    const span = `from=${new Date(thisHourMs - hourMs).toISOString()}&to=${new Date(thisHourMs + 2 * hourMs).toISOString()}`;
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?${span}&groupBy=tracker,outcome,cachebusterMissing,paymentRule&tracker=${trackerId}`,
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    // Each hit at its ancost, 0.002 (no rule: paymentRule 0), and a 3.00 CPM's revenue.
    assert.deepEqual(report.body.rows, [
      {
        tracker: trackerId,
        outcome: 'counted',
        cachebusterMissing: false,
        paymentRule: 0,
        events: 6,
        priceMicros: 0,
        mediaCostMicros: 6 * 2000,
        revenueMicros: 6 * 3000,
        profitMicros: 6 * 1000,
      },
    ]);
  });
});
