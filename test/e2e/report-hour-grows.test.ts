import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { everyBillingRecord } from '../support/billing-pages.js';
import { CHROME } from '../support/user-agents.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * The hourly rollups over real HTTP, for notices that arrive in another hour than the one their
 * impression was served in (auctions a second either side of an hour's start) and for an hour
 * that keeps receiving notices after a report read it: the next report adds them in, each under
 * its auction's hour, duplicates, invalid traffic and late notices beside the counted ones.
 */

let tally: TestServer;
let hourMs: number;
const iso = (ms: number) => new Date(ms).toISOString();

async function fire(url: string, userAgent = CHROME): Promise<void> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent } });
  await response.arrayBuffer();
  assert.equal(response.status, 200, url);
}

/** The adm notice URL of a win registered with `auctionTimeMs` (and `exp`, its TTL, when given). */
async function win(id: string, auctionTimeMs: number, exp?: number): Promise<string> {
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
    wins: [
      {
        request: { id, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { publisher: { id: 'pub' } } },
        seat: 'seat',
        bid: {
          id: `bid-${id}`,
          impid: '1',
          price: 100,
          adm: '<div>ad</div>',
          ...(exp === undefined ? {} : { exp }),
        },
        clearingPrice: 1.5,
        auctionTimeMs,
      },
    ],
  });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  const [result] = registered.body.results as any[];
  assert.equal(result.ok, true, JSON.stringify(result));
  return result.noticeUrls.adm as string;
}

async function rows(): Promise<unknown[]> {
  const window = `from=${iso(hourMs - HOUR_MS)}&to=${iso(hourMs + HOUR_MS)}`;
  const report = await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&groupBy=hour,outcome,reason`);
  assert.equal(report.status, 200, JSON.stringify(report.body));
  return (report.body.rows as any[]).map((row) => [
    row.hour,
    row.outcome,
    row.reason,
    row.events,
    row.priceMicros,
  ]);
}

before(async () => {
  tally = await startServer({
    TALLY_RULES: JSON.stringify({
      '*': [{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 7200 }],
    }),
  });
  hourMs = hourStartMs(Date.now());
});

after(async () => {
  await tally?.dispose();
});

describe('hourly rollups', () => {
  it('put each notice under its auction’s hour, across an hour’s start, and add in what an hour receives after a report read it', async () => {
    const lastSecond = await win('last-second', hourMs - 1000);
    const onTheHour = await win('on-the-hour', hourMs);
    await fire(lastSecond);
    await fire(onTheHour);
    const previous = iso(hourMs - HOUR_MS);
    const current = iso(hourMs);
    assert.deepEqual(await rows(), [
      [previous, 'counted', '', 1, 1_500_000],
      [current, 'counted', '', 1, 1_500_000],
    ]);

    await fire(lastSecond);
    await fire(await win('first-second', hourMs - HOUR_MS));
    await fire(onTheHour, 'Googlebot/2.1 (+http://www.google.com/bot.html)');
    // Its TTL of one second long past: late, under its auction's hour.
    await fire(await win('late', hourMs - HOUR_MS + 1000, 1));
    assert.deepEqual(await rows(), [
      [previous, 'counted', '', 2, 3_000_000],
      [previous, 'not_counted', 'duplicate', 1, 0],
      [previous, 'not_counted', 'late', 1, 0],
      [current, 'counted', '', 1, 1_500_000],
      [current, 'not_counted', 'invalid_traffic', 1, 0],
    ]);
    const served = await everyBillingRecord(
      tally,
      tally.adminKey,
      `servedFrom=${previous}&servedTo=${current}&limit=1000`,
    );
    assert.deepEqual(served.map((record) => record.auctionId).sort(), ['first-second', 'last-second']);
  });
});
