import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageProblems, tallyInChromium } from '../support/chromium.js';
import { fixtureText } from '../support/fixtures.js';
import { api } from '../support/server.js';

const running = tallyInChromium();

/** The counted events of the auction's seat served in the last hour or the next, by notice. */
async function countedNotices(seat: string): Promise<Record<string, number>> {
  const hourMs = 3_600_000;
  const thisHourMs = Math.floor(Date.now() / hourMs) * hourMs;
  const from = new Date(thisHourMs - hourMs).toISOString();
  const to = new Date(thisHourMs + 2 * hourMs).toISOString();
  const query = `from=${from}&to=${to}&groupBy=notice&outcome=counted&seat=${seat}`;
  const report = await api(running.tally(), running.tally().adminKey, 'GET', `/v1/reports?${query}`);
  assert.equal(report.status, 200, JSON.stringify(report.body));
  return Object.fromEntries(
    report.body.rows.map((row: { notice: string; events: number }) => [row.notice, row.events]),
  );
}

describe('a native impression tracked by script in Chromium', () => {
  it('loads the script event tracker Tally adds where the request offers only scripts, without an error, and counts it', async () => {
    // The IAB's Native 1.2 sample that offers event 1 (impression) with method 2 (JavaScript) alone.
    const tally = running.tally();
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
      wins: [
        {
          request: {
            id: 'native-script-1',
            imp: [
              { id: '1', native: { request: fixtureText('native', 'request_1.2_content-context.json') } },
            ],
            site: { domain: 'news.example' },
          },
          seat: 'script-seat',
          bid: { id: 'b1', impid: '1', price: 2, adm: fixtureText('native', 'response_1.2_clickout.json') },
        },
      ],
    });
    const [result] = registered.body.results;
    assert.equal(result.ok, true, JSON.stringify(result));
    const trackers = JSON.parse(result.adm).eventtrackers as { event: number; method: number; url: string }[];
    const ours = trackers.filter((tracker) => tracker.url.startsWith(tally.url));
    assert.deepEqual(ours, [{ event: 1, method: 2, url: `${result.noticeUrls.native}?f=b` }]);

    // What a native renderer does with a method 2 tracker when the impression happens.
    const page = await running.context().newPage();
    const problems = pageProblems(page);
    try {
      await page.setContent(
        `<script>window.outcome = 'pending'</script>` +
          `<script src="${ours[0]?.url}" onload="window.outcome = 'loaded'" onerror="window.outcome = 'error'"></script>`,
        { waitUntil: 'load' },
      );
      assert.equal(await page.evaluate('window.outcome'), 'loaded');
    } finally {
      await page.close();
    }
    assert.deepEqual(problems, []);
    assert.deepEqual(await countedNotices('script-seat'), { native: 1 });
  });
});
