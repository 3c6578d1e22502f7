import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { everyBillingRecord } from '../support/billing-pages.js';
import { CHROME } from '../support/user-agents.js';
import { winBody } from '../support/win-body.js';
import type { WinSpec } from '../support/win-body.js';
import { until } from '../support/until.js';
import { DAY_MS, HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * One mixed workload over real HTTP against a real server process and a local DSP, then the four
 * places a counted impression shows up, which must agree: the report's counted events and
 * `priceMicros`, the billing records' export, the burls the DSP received (from Tally's outbox or
 * by following the 302 that answers the publisher's burl) and `/metrics`' counted notices. The
 * workload mixes duplicates by the same method and across methods (a win registered twice, once
 * with `publisherBurl`), late notices, tokens that open nothing, publisher burls answered 302 (one
 * repeated by the publisher), test wins, a bot, and non-billing notices.
 */

const BOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)';

let tally: TestServer;
let dsp: FakeDsp;
let sequence = 0;
/** The clearing price (micros) of each impression that should count, by auction id. */
const shouldCount = new Map<string, number>();
/** What the test fired, by `outcome/reason`. */
const fired = new Map<string, number>();
/** The auction ids whose impression must never reach the DSP. */
const neverBilled: string[] = [];
/** DSP calls beyond one per counted impression: a repeat of a counted publisher burl, redirected. */
let repeatRedirects = 0;

function expect(outcome: string, reason = '', times = 1): void {
  const key = `${outcome}/${reason}`;
  fired.set(key, (fired.get(key) ?? 0) + times);
}

/** A win of its own auction, its DSP burl carrying the auction id and the price. */
function win(spec: WinSpec = {}): { auctionId: string; body: object } {
  sequence++;
  const auctionId = `mix-${sequence}`;
  const body = winBody(
    { ...spec, clearingPrice: spec.clearingPrice ?? 1 + sequence / 100 },
    {
      auctionId,
      bidId: `bid-${sequence}`,
      seat: 'seat-mix',
      publisherId: 'pub-mix',
      price: 3,
      burl: `${dsp.url}/bill?auction=\${AUCTION_ID}&price=\${AUCTION_PRICE}&cur=\${AUCTION_CURRENCY}`,
    },
  );
  return { auctionId, body };
}

async function register(...bodies: object[]): Promise<any[]> {
  const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: bodies });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  for (const result of response.body.results) assert.equal(result.ok, true, JSON.stringify(result));
  return response.body.results;
}

/** Fires a notice as a browser or SDK would, not following redirects; answers the response. */
async function fire(url: string, userAgent = CHROME): Promise<Response> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent }, redirect: 'manual' });
  await response.arrayBuffer();
  return response;
}

/** Fires the publisher's burl and follows its 302 to the DSP, as the SDK must; answers the status. */
async function fireFollowing(url: string): Promise<number> {
  const response = await fire(url);
  const location = response.headers.get('location');
  if (response.status === 302 && location !== null) {
    const landed = await fetch(location, { headers: { 'user-agent': CHROME } });
    await landed.arrayBuffer();
    assert.equal(landed.status, 200);
  }
  return response.status;
}

/** The micros of a price the DSP's burl carries as `${AUCTION_PRICE}` (`'1.05'`). */
function priceMicrosOf(text: string | null): number {
  const [whole = '', fraction = ''] = (text ?? '').split('.');
  return Number(whole) * 1_000_000 + Number(fraction.padEnd(6, '0'));
}

/** The report window: every auction of the workload, the late ones three hours back included. */
function window(): string {
  const hourMs = hourStartMs(Date.now());
  const iso = (ms: number) => new Date(ms).toISOString();
  return `from=${iso(hourMs - DAY_MS)}&to=${iso(hourMs + 2 * HOUR_MS)}`;
}

/** `tally_notices_total` samples summed by `outcome/reason`, from the server's `/metrics`. */
async function noticeMetrics(): Promise<Map<string, number>> {
  const response = await fetch(`${tally.url}/metrics`);
  assert.equal(response.status, 200);
  const sums = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^tally_notices_total\{(?<labels>[^}]*)\} (?<value>\S+)$/.exec(line);
    if (match?.groups === undefined) continue;
    const labels = new Map(
      [...(match.groups.labels ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, name, value]) => [name, value]),
    );
    const key = `${labels.get('outcome') ?? ''}/${labels.get('reason') ?? ''}`;
    const value = Number(match.groups.value);
    if (value > 0) sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return sums;
}

function billingRecords(): Promise<any[]> {
  const served = window().replace('from=', 'servedFrom=').replace('to=', 'servedTo=');
  return everyBillingRecord(tally, tally.adminKey, `${served}&limit=7`);
}

const sorted = <T>(map: Map<string, T>) => Object.fromEntries([...map].sort());

before(async () => {
  dsp = await startDsp();
  tally = await startServer({ TALLY_BURL_RETRY_SECONDS: '1' });
  const nowMs = Date.now();

  // Web banners on their pixel: each counts once, two fired again (same-method duplicates).
  const banners = Array.from({ length: 4 }, () => win());
  const bannerResults = await register(...banners.map((one) => one.body));
  for (const [index, result] of bannerResults.entries()) {
    assert.equal(result.method, 'adm');
    assert.equal((await fire(result.noticeUrls.adm)).status, 200);
    expect('counted');
    if (index % 2 === 0) {
      await fire(result.noticeUrls.adm);
      expect('not_counted', 'duplicate');
    }
  }

  // One impression registered twice: its pixel counts first, then the publisher's burl repeats it
  // (plain answer, nothing more to the DSP: its burl went to the outbox).
  const pixelFirst = win();
  const [pixel, pixelsBurl] = await register(pixelFirst.body, { ...pixelFirst.body, publisherBurl: true });
  assert.deepEqual([pixel.method, pixelsBurl.method], ['adm', 'burl']);
  await fire(pixel.noticeUrls.adm);
  assert.equal(await fireFollowing(pixelsBurl.burl), 200);
  expect('counted');
  expect('not_counted', 'duplicate');

  // The other way round: the publisher's burl counts (302 to the DSP), the pixel is a duplicate.
  const burlFirst = win();
  const [burlsPixel, burl] = await register(burlFirst.body, { ...burlFirst.body, publisherBurl: true });
  assert.equal(await fireFollowing(burl.burl), 302);
  assert.equal((await fire(burlsPixel.noticeUrls.adm)).status, 200);
  expect('counted');
  expect('not_counted', 'duplicate');

  // App banners billed through the publisher's burl; the publisher repeats one (302 again).
  const appBurls = [
    win({ context: { app: {} }, publisherBurl: true }),
    win({ context: { app: {} }, publisherBurl: true }),
  ];
  const appResults = await register(...appBurls.map((one) => one.body));
  for (const result of appResults) assert.equal(await fireFollowing(result.burl), 302);
  assert.equal(await fireFollowing(appResults[0].burl), 302);
  repeatRedirects++;
  expect('counted', '', 2);
  expect('not_counted', 'duplicate');

  // A web video's VAST impression fired twice at once, and its error notice.
  const video = win({ imp: { video: {} }, bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' } });
  const [videoResult] = await register(video.body);
  await Promise.all([fire(videoResult.noticeUrls.vast), fire(videoResult.noticeUrls.vast)]);
  await fire(String(videoResult.noticeUrls.vast_error).replace('[ERRORCODE]', '402'));
  expect('counted');
  expect('not_counted', 'duplicate');
  expect('not_counted', 'not_billing_method');

  // A native ad's tracker.
  const native = win({
    imp: { native: { request: '{"ver":"1.2","assets":[]}' } },
    bid: { adm: '{"native":{"ver":"1.2","assets":[],"link":{"url":"https://adv.example"}}}' },
  });
  const [nativeResult] = await register(native.body);
  await fire(nativeResult.noticeUrls.native);
  expect('counted');

  // Late notices: a web banner past 600 s, an app banner's publisher burl past 3 h (no 302).
  const lateBanner = win({ auctionTimeMs: nowMs - 601_000 });
  const lateBurl = win({
    context: { app: {} },
    publisherBurl: true,
    auctionTimeMs: nowMs - 3 * HOUR_MS - 1000,
  });
  const [lateBannerResult, lateBurlResult] = await register(lateBanner.body, lateBurl.body);
  await fire(lateBannerResult.noticeUrls.adm);
  assert.equal(await fireFollowing(lateBurlResult.burl), 200);
  expect('not_counted', 'late', 2);

  // Test wins: the exchange's flag, and a test auction (request.test 1) on a publisher burl.
  const testWin = win({ test: true });
  const testAuction = win({ context: { app: {}, test: 1 }, publisherBurl: true });
  const [testResult, testAuctionResult] = await register(testWin.body, testAuction.body);
  await fire(testResult.noticeUrls.adm);
  assert.equal(await fireFollowing(testAuctionResult.burl), 200);
  expect('not_counted', 'preview', 2);

  // A crawler's render, then tokens that open nothing.
  const crawled = win();
  const [crawledResult] = await register(crawled.body);
  await fire(crawledResult.noticeUrls.adm, BOT);
  expect('not_counted', 'invalid_traffic');
  for (const token of ['nothing', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'x.y']) {
    assert.equal((await fire(`${tally.url}/n/${token}`)).status, 200);
  }
  expect('not_counted', 'invalid_token', 3);
  neverBilled.push(
    lateBanner.auctionId,
    lateBurl.auctionId,
    testWin.auctionId,
    testAuction.auctionId,
    crawled.auctionId,
  );

  // The prices each impression is billed at, as the wins sent them.
  const registered = [...banners, pixelFirst, burlFirst, ...appBurls, video, native];
  for (const one of registered) {
    shouldCount.set(one.auctionId, Math.round(((one.body as any).clearingPrice as number) * 1_000_000));
  }
  // Every counted impression's burl has reached the DSP, from the outbox or by the 302.
  await dsp.waitFor((hits) =>
    [...shouldCount.keys()].every((id) => hits.some((hit) => hit.query.get('auction') === id)),
  );
  await until(async () => {
    const pending = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=pending&limit=1000');
    return pending.status === 200 && pending.body.deliveries.length === 0;
  }, 'no burl delivery left pending');
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
});

describe('a mixed workload: reports, billing records, DSP burls and /metrics agree', () => {
  it('bills exactly the impressions that should count, at their clearing prices, in the billing records', async () => {
    const records = await billingRecords();
    assert.deepEqual(
      sorted(new Map(records.map((record) => [record.auctionId, record.priceMicros]))),
      sorted(shouldCount),
    );
    assert.equal(records.length, shouldCount.size, 'one record per counted impression');
  });

  it('reports the same counted events and priceMicros as the billing records, and every notice by outcome and reason', async () => {
    const response = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?${window()}&groupBy=outcome,reason`,
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const rows: any[] = response.body.rows;
    assert.deepEqual(
      sorted(new Map(rows.map((row) => [`${row.outcome}/${row.reason}`, row.events]))),
      sorted(fired),
    );
    const counted = rows.find((row) => row.outcome === 'counted');
    const records = await billingRecords();
    assert.deepEqual(
      { events: counted?.events, priceMicros: counted?.priceMicros },
      {
        events: records.length,
        priceMicros: records.reduce((sum, record) => sum + record.priceMicros, 0),
      },
    );
  });

  it('sent the DSP one burl per counted impression at its price (a repeated publisher burl redirected again), and none for the others', () => {
    const hits = dsp.hits.filter((hit) => hit.path === '/bill');
    const byAuction = new Map<string, number>();
    for (const hit of hits) {
      const auctionId = hit.query.get('auction') ?? '';
      byAuction.set(auctionId, (byAuction.get(auctionId) ?? 0) + 1);
      assert.equal(priceMicrosOf(hit.query.get('price')), shouldCount.get(auctionId), auctionId);
      assert.equal(hit.query.get('cur'), 'USD');
    }
    assert.deepEqual(Object.keys(sorted(byAuction)), Object.keys(sorted(shouldCount)));
    for (const id of neverBilled) assert.equal(byAuction.get(id), undefined, id);
    assert.equal(hits.length, shouldCount.size + repeatRedirects);
  });

  it('counts in /metrics the notices the report and the billing records hold, by outcome and reason', async () => {
    const metrics = await noticeMetrics();
    assert.deepEqual(sorted(metrics), sorted(fired));
    assert.equal(metrics.get('counted/'), (await billingRecords()).length);
  });
});
