import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';
import { publisherReaderKey } from '../support/publisher-reader.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/** Reports over real HTTP whose sums pass what a JSON number holds exactly. */

let tally: TestServer;
/** A window of three hours around now, as report query parameters. */
let range: string;
/** A key scoped to the catalog publisher of the wins' OpenRTB publisher id. */
let publisherKey: string;

/**
 * Registers a win at `price` (currency units) for `seat`, on OpenRTB publisher `pub-big`, and fires
 * its notice, which counts.
 */
async function countedWin(auctionId: string, seat: string, price: number): Promise<void> {
  const win = {
    request: {
      id: auctionId,
      imp: [{ id: '1', banner: { w: 300, h: 250 } }],
      site: { publisher: { id: 'pub-big' } },
    },
    seat,
    bid: { id: 'b1', impid: '1', price, adm: '<div>ad</div>' },
  };
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
  const [result] = registered.body.results;
  assert.equal(result.ok, true, JSON.stringify(result));
  const notice = await fetch(result.noticeUrls[result.method], { headers: { 'user-agent': CHROME } });
  assert.equal(notice.status, 200);
}

before(async () => {
  tally = await startServer();
  const hourMs = hourStartMs(Date.now());
  const iso = (ms: number) => new Date(ms).toISOString();
  // Up to the end of the next hour: the wins' auctions come after this, in the next hour should
  // the hour turn meanwhile.
  range = `from=${iso(hourMs - HOUR_MS)}&to=${iso(hourMs + 2 * HOUR_MS)}`;
  // priceMicros adds up CPMs: 10^16 micros is a year of a few million impressions a day. A win
  // bills at most 10^9 currency units.
  for (let win = 0; win < 4; win++) {
    await countedWin(`big-1-${win}`, 's1', 1_000_000_000);
    await countedWin(`big-2-${win}`, 's2', 1_000_000_000);
  }
  await countedWin('big-3-0', 's3', 1_000_000_000);
  await countedWin('big-3-1', 's3', 1_000_000_000);
  await countedWin('big-3-2', 's3', 0.000001);
  publisherKey = await publisherReaderKey(tally, 'Big', 'pub-big');
});

after(async () => {
  await tally?.dispose();
});

describe('report sums past 2^53 - 1 micros', () => {
  it('refuses with 400 REPORT_TOO_LARGE, saying how to narrow it, a total a JSON number cannot hold exactly, instead of answering it a few micros off', async () => {
    const response = await api(tally, tally.adminKey, 'GET', `/v1/reports?${range}&groupBy=outcome`);
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.error.code, 'REPORT_TOO_LARGE');
    assert.match(response.body.error.message, /priceMicros add up to 10000000000000001,/);
    assert.match(response.body.error.message, /narrow from and to/);
    assert.match(response.body.error.message, /ask for it as CSV \(format=csv\)/);
  });

  it('answers that total exactly in CSV, which writes any integer, so that no sum makes a report unreadable', async () => {
    const csv = await fetch(`${tally.url}/v1/reports?${range}&groupBy=outcome&format=csv`, {
      headers: { authorization: `Bearer ${tally.adminKey}` },
    });
    assert.equal(csv.status, 200);
    assert.equal(
      await csv.text(),
      'outcome,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros\r\ncounted,11,10000000000000001,0,0,0\r\n',
    );
  });

  it('answers a publisher-scoped key, shown no clearing prices, the report whose prices pass it, and never says their sum', async () => {
    const response = await api(tally, publisherKey, 'GET', `/v1/reports?${range}&groupBy=outcome`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body.rows, [{ outcome: 'counted', events: 11, mediaCostMicros: 0 }]);
  });

  it('answers the rows that stay within it exactly, in JSON and in CSV', async () => {
    const bySeat = await api(tally, tally.adminKey, 'GET', `/v1/reports?${range}&groupBy=seat`);
    assert.equal(bySeat.status, 200, JSON.stringify(bySeat.body));
    assert.deepEqual(
      bySeat.body.rows.map((row: any) => [row.seat, row.priceMicros]),
      [
        ['s1', 4_000_000_000_000_000],
        ['s2', 4_000_000_000_000_000],
        ['s3', 2_000_000_000_000_001],
      ],
    );
    const csv = await fetch(`${tally.url}/v1/reports?${range}&groupBy=seat&format=csv`, {
      headers: { authorization: `Bearer ${tally.adminKey}` },
    });
    const lines = (await csv.text()).trim().split('\r\n');
    const total = lines.slice(1).reduce((sum, line) => sum + BigInt(line.split(',')[2] ?? '0'), 0n);
    assert.equal(total, 10_000_000_000_000_001n);
  });
});
