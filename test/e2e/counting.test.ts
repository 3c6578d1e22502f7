import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { fixtureJson, fixtureNames } from '../support/fixtures.js';
import { api, runCli, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { generateKey, sealToken } from '../../src/domain/token.js';
import { until } from '../support/until.js';
import { ledgerEventsOf } from '../support/ledger-events.js';
import { CHROME } from '../support/user-agents.js';
import { winBody } from '../support/win-body.js';
import type { WinSpec } from '../support/win-body.js';
import { hourStartMs } from '../../src/lib/time.js';
import { fakeClock } from '../support/fake-clock.js';
import type { FakeClock } from '../support/fake-clock.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';

const BLOCKED_RANGE = '203.0.113.0/24';

let tally: TestServer;
let dsp: FakeDsp;
/** Tally's wall clock, which a test moves past a TTL's end rather than wait for it. */
let clock: FakeClock;
let auctionSeq = 0;
/** What the test fired, by outcome/reason, to check the reports against. */
const fired = new Map<string, number>();

function expect(outcome: string, reason = ''): void {
  const key = `${outcome}/${reason}`;
  fired.set(key, (fired.get(key) ?? 0) + 1);
}

function buildWin(spec: WinSpec = {}): object {
  auctionSeq++;
  return winBody(spec, {
    auctionId: `auction-${auctionSeq}`,
    bidId: `bid-${auctionSeq}`,
    seat: 'seat-1',
    publisherId: 'pub-web',
    price: 1.25,
    burl: `${dsp.url}/bill?price=\${AUCTION_PRICE}&auction=\${AUCTION_ID}&cur=\${AUCTION_CURRENCY}&mbr=\${AUCTION_MBR}&bidid=\${AUCTION_BID_ID}`,
  });
}

async function register(...wins: object[]): Promise<any[]> {
  const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.results;
}

async function registerOne(spec: WinSpec = {}): Promise<any> {
  const [result] = await register(buildWin(spec));
  assert.equal(result.ok, true, JSON.stringify(result));
  return result;
}

async function fire(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  const response = await fetch(url, {
    method,
    headers: { 'user-agent': CHROME, ...headers },
    redirect: 'manual',
  });
  await response.arrayBuffer();
  return response;
}

/** Sends `request` on a connection of its own; resolves with all the server wrote once it ended it. */
function exchange(request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(tally.port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/**
 * Up to where the reports of what the file fired reach: the end of the hour after the real
 * clock's. A win registered while Tally's clock was moved on (`pastEnd`) has Tally's time then as
 * its auction time, which its notices are served in: up to a minute past the real clock, so in
 * the next hour when that test ran in an hour's last minute.
 */
function firedUntil(): string {
  return new Date(hourStartMs(Date.now()) + 2 * 3_600_000).toISOString();
}

async function report(groupBy: string, extra = ''): Promise<any[]> {
  const from = new Date(hourStartMs(Date.now()) - 2 * 86_400_000).toISOString();
  const to = firedUntil();
  const response = await api(
    tally,
    tally.adminKey,
    'GET',
    `/v1/reports?from=${from}&to=${to}&groupBy=${groupBy}${extra}`,
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.rows;
}

/** The request id of the last win built: the auction id its notices are recorded under. */
function lastAuctionId(): string {
  return `auction-${auctionSeq}`;
}

/**
 * What the ledger recorded for every notice of these auctions, in the order recorded, as
 * `<auction> <outcome>/<reason>[/<IVT rule>]`: read from the SQLite file itself, where a notice
 * is committed before it is answered.
 */
function recorded(...auctionIds: string[]): string[] {
  return ledgerEventsOf(tally.dataDir, auctionIds).map(
    (row) => `${row.auction_id} ${row.outcome}/${row.reason}${row.ivt_rule === '' ? '' : `/${row.ivt_rule}`}`,
  );
}

/** How many notices the ledger recorded as `invalid_token`, read from the SQLite file. */
function invalidTokenEvents(): number {
  const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
  try {
    return db.prepare(`SELECT COUNT(*) FROM events WHERE reason = 'invalid_token'`).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** The burl deliveries in Tally's outbox whose URL contains `fragment`, any status. */
async function deliveriesTo(fragment: string): Promise<any[]> {
  const listed = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?limit=1000');
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  return listed.body.deliveries.filter((delivery: any) => String(delivery.url).includes(fragment));
}

/**
 * Runs `check` with Tally's wall clock a second past `endsMs` (a time of the real clock, which the
 * test's stays on), then puts it back: what only the passing of time brings (a TTL's end), without
 * waiting for it. Nothing else runs meanwhile: the tests of a file run one at a time.
 */
async function pastEnd(endsMs: number, check: () => Promise<void>): Promise<void> {
  clock.step(`+${Math.max(0, Math.ceil((endsMs + 1000 - Date.now()) / 1000))}`);
  try {
    // Tally's own word (its Date header, to the second, renewed once a second) that its clock
    // is past the end.
    await until(
      async () => {
        const serverDate = (await fetch(`${tally.url}/healthz`)).headers.get('date');
        return Date.parse(serverDate ?? '') >= endsMs;
      },
      `Tally's clock past ${new Date(endsMs).toISOString()}`,
    );
    await check();
  } finally {
    clock.step('+0');
  }
}

/**
 * A {@link FakeClock} setting that holds Tally's wall clock still at `ms` (libfaketime's absolute
 * time, read in UTC: see `fakeClock`), to the millisecond: its `Date.now()` is `ms` until the clock
 * is moved again.
 */
function heldAt(ms: number): string {
  const [day, time] = new Date(ms).toISOString().slice(0, -1).split('T');
  // Half a millisecond on: libfaketime's conversion can land a hair before the time it reads.
  return `${day} ${time}500`;
}

/** The billing notice of a win: the URL whose kind is the win's counting method. */
function billingUrl(result: any): string {
  const url = result.noticeUrls[result.method];
  assert.ok(typeof url === 'string', `no ${result.method} URL in ${JSON.stringify(result.noticeUrls)}`);
  return url;
}

before(async () => {
  dsp = await startDsp();
  clock = fakeClock();
  tally = await startServer({
    ...clock.env,
    TALLY_IVT_BLOCKED_IPS: BLOCKED_RANGE,
    TALLY_BURL_RETRY_SECONDS: '1',
  });
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
  clock?.dispose();
});

describe('counting notices end to end', () => {
  it('answers a counted notice with the 43-byte GIF, uncached', async () => {
    const result = await registerOne();
    const response = await fetch(billingUrl(result), { headers: { 'user-agent': CHROME } });
    const body = Buffer.from(await response.arrayBuffer());
    expect('counted');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/gif');
    assert.equal(response.headers.get('cache-control'), 'no-store, no-cache, must-revalidate');
    assert.equal(body.length, 43);
    assert.equal(body.subarray(0, 6).toString(), 'GIF89a');
  });

  it('answers 204 to a beacon (f=b)', async () => {
    const result = await registerOne();
    const response = await fire(`${billingUrl(result)}?f=b`);
    expect('counted');
    assert.equal(response.status, 204);
  });

  it('registers wins sent gzip-compressed (Content-Encoding: gzip) and counts their notices', async () => {
    const wins = [buildWin(), buildWin()];
    const response = await fetch(`${tally.url}/v1/wins`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tally.adminKey}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync(JSON.stringify({ wins })),
    });
    const { results } = (await response.json()) as { results: any[] };
    assert.deepEqual([response.status, results.map((result) => result.ok)], [200, [true, true]]);
    for (const result of results) {
      await fire(billingUrl(result));
      expect('counted');
    }
    const [first, second] = results.map((result) => new URL(billingUrl(result)).pathname);
    assert.notEqual(first, second);
    assert.deepEqual(recorded(`auction-${auctionSeq - 1}`, lastAuctionId()), [
      `auction-${auctionSeq - 1} counted/`,
      `${lastAuctionId()} counted/`,
    ]);
  });

  it('counts a notice whose token a client percent-encoded beyond need (%2D for -, %41 for A)', async () => {
    const result = await registerOne();
    const url = billingUrl(result);
    const tokenAt = url.lastIndexOf('/') + 1;
    const escaped = [...url.slice(tokenAt)]
      .map((character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
      .join('');
    const response = await fire(`${url.slice(0, tokenAt)}${escaped}`);
    expect('counted');
    assert.equal(response.status, 200);
  });

  it('records no notice that comes by a method other than GET, HEAD or POST (a CORS preflight), answering 405', async () => {
    const result = await registerOne();
    for (const method of ['OPTIONS', 'PUT', 'DELETE', 'PATCH']) {
      const response = await fire(billingUrl(result), {}, method);
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD, POST');
    }
    const tracker = await fire(`${tally.url}/imptr?id=1&cachebuster=x`, {}, 'OPTIONS');
    assert.equal(tracker.status, 405);
    assert.deepEqual(recorded(lastAuctionId()), []);
    assert.equal((await fire(billingUrl(result), {}, 'POST')).status, 200);
    expect('counted');
    assert.deepEqual(recorded(lastAuctionId()), [`${lastAuctionId()} counted/`]);
  });

  it('counts the billing notice of a win built from every OpenRTB request and response fixture', async () => {
    const auctionIds: string[] = [];
    const requests = fixtureNames('openrtb').filter((name) => name.startsWith('bid-request'));
    assert.ok(requests.length >= 5, `only ${requests.length} OpenRTB request fixtures found`);
    for (const name of requests) {
      const request = fixtureJson('openrtb', name);
      request.id = `${request.id}-${++auctionSeq}`;
      const imp = request.imp[0];
      const adm =
        imp.video !== undefined
          ? '<VAST version="3.0"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></VAST>'
          : '<p>ad</p>';
      const [result] = await register({
        request,
        seat: 'seat-fixture',
        bid: { id: 'b', impid: imp.id, price: 2, adm },
      });
      assert.equal(result.ok, true, `${name}: ${JSON.stringify(result)}`);
      assert.equal((await fire(billingUrl(result))).status, 200);
      expect('counted');
      auctionIds.push(request.id);
    }
    const video = fixtureJson('openrtb', 'bid-request_2.6_video.json');
    const banner = fixtureJson('openrtb', 'bid-request_2.6_simple-banner.json');
    const responses = fixtureNames('openrtb').filter((file) => file.startsWith('bid-response'));
    assert.ok(responses.length >= 4, `only ${responses.length} OpenRTB response fixtures found`);
    for (const name of responses) {
      const response = fixtureJson('openrtb', name);
      const bid = response.seatbid[0].bid[0];
      const isNative = typeof bid.adm === 'string' && bid.adm.includes('"native"');
      const base = structuredClone(typeof bid.adm === 'string' && bid.adm.includes('VAST') ? video : banner);
      base.id = `${response.id}-${++auctionSeq}`;
      base.imp = [
        isNative ? { id: bid.impid, native: { request: '{}' } } : { ...base.imp[0], id: bid.impid },
      ];
      const [result] = await register({
        request: base,
        seat: response.seatbid[0].seat ?? 'seat-fixture',
        bid,
      });
      assert.equal(result.ok, true, `${name}: ${JSON.stringify(result)}`);
      assert.equal((await fire(billingUrl(result))).status, 200);
      expect('counted');
      auctionIds.push(base.id);
    }
    // The answer is the same whatever the outcome: only the ledger tells that each one counted.
    assert.deepEqual(
      recorded(...auctionIds),
      auctionIds.map((id) => `${id} counted/`),
    );
  });

  const ttlCases: { name: string; spec: WinSpec; method: string; ttlSeconds: number }[] = [
    { name: 'web banner', spec: {}, method: 'adm', ttlSeconds: 600 },
    {
      name: 'app banner with OMID',
      spec: { context: { app: {} }, imp: { banner: { api: [7] } } },
      method: 'omid',
      ttlSeconds: 10800,
    },
    {
      name: 'app banner with publisher burl',
      spec: { context: { app: {} }, publisherBurl: true },
      method: 'burl',
      ttlSeconds: 10800,
    },
    { name: 'app banner with neither', spec: { context: { app: {} } }, method: 'adm', ttlSeconds: 600 },
    {
      name: 'web video',
      spec: { imp: { video: {} }, bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' } },
      method: 'vast',
      ttlSeconds: 3600,
    },
    {
      name: 'app video',
      spec: {
        imp: { video: {} },
        context: { app: {} },
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'vast',
      ttlSeconds: 10800,
    },
    {
      name: 'CTV video',
      spec: {
        imp: { video: {} },
        context: { app: {}, device: { devicetype: 3 } },
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'vast',
      ttlSeconds: 10800,
    },
    {
      name: 'web audio',
      spec: { imp: { audio: {} }, bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' } },
      method: 'vast',
      ttlSeconds: 3600,
    },
    {
      name: 'web native',
      spec: { imp: { native: { request: '{}' } }, bid: { adm: '{"assets":[],"link":{"url":"https://x"}}' } },
      method: 'native',
      ttlSeconds: 300,
    },
    {
      name: 'app native',
      spec: {
        context: { app: {} },
        imp: { native: { request: '{}' } },
        bid: { adm: '{"assets":[],"link":{"url":"https://x"}}' },
      },
      method: 'native',
      ttlSeconds: 300,
    },
    {
      name: 'web banner with publisher burl',
      spec: { publisherBurl: true },
      method: 'burl',
      ttlSeconds: 10800,
    },
    {
      name: 'web banner offering OMID (OMID counts in apps only)',
      spec: { imp: { banner: { api: [7] } } },
      method: 'adm',
      ttlSeconds: 600,
    },
    {
      name: 'app banner with OMID and publisher burl (OMID first)',
      spec: { context: { app: {} }, imp: { banner: { api: [7] } }, publisherBurl: true },
      method: 'omid',
      ttlSeconds: 10800,
    },
    {
      name: 'CTV banner',
      spec: { context: { app: {}, device: { devicetype: 3 } } },
      method: 'adm',
      ttlSeconds: 600,
    },
    {
      name: 'web outstream video',
      spec: { imp: { video: { plcmt: 4 } }, bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' } },
      method: 'vast',
      ttlSeconds: 3600,
    },
    {
      name: 'set-top box video',
      spec: {
        imp: { video: {} },
        context: { app: {}, device: { devicetype: 7 } },
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'vast',
      ttlSeconds: 10800,
    },
    {
      name: 'web video with publisher burl',
      spec: {
        imp: { video: {} },
        publisherBurl: true,
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'burl',
      ttlSeconds: 10800,
    },
    {
      name: 'app audio',
      spec: {
        imp: { audio: {} },
        context: { app: {} },
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'vast',
      ttlSeconds: 10800,
    },
    {
      name: 'CTV audio',
      spec: {
        imp: { audio: {} },
        context: { app: {}, device: { devicetype: 3 } },
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'vast',
      ttlSeconds: 10800,
    },
    {
      name: 'web audio with publisher burl',
      spec: {
        imp: { audio: {} },
        publisherBurl: true,
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'burl',
      ttlSeconds: 10800,
    },
    {
      name: 'CTV native',
      spec: {
        context: { app: {}, device: { devicetype: 3 } },
        imp: { native: { request: '{}' } },
        bid: { adm: '{"assets":[],"link":{"url":"https://x"}}' },
      },
      method: 'native',
      ttlSeconds: 300,
    },
    {
      name: 'web native with publisher burl',
      spec: {
        imp: { native: { request: '{}' } },
        publisherBurl: true,
        bid: { adm: '{"assets":[],"link":{"url":"https://x"}}' },
      },
      method: 'burl',
      ttlSeconds: 10800,
    },
    {
      name: 'SSAI video on the publisher burl',
      spec: {
        imp: { video: {} },
        context: { app: {}, device: { devicetype: 7 } },
        publisherBurl: true,
        bid: { adm: undefined, nurl: 'https://dsp.invalid/vast' },
      },
      method: 'burl',
      ttlSeconds: 10800,
    },
  ];
  // Seconds before the TTL ends (time enough to register the win and fire it on a loaded machine,
  // where 5 s was not always; never enough for a TTL off by more than that), and one second after it.
  const INSIDE_MS = 15_000;
  const OUTSIDE_MS = 1_000;
  for (const { name, spec, method, ttlSeconds } of ttlCases) {
    it(`${name}: counts the ${method} notice ${INSIDE_MS / 1000} s before its ${ttlSeconds} s TTL ends, not ${OUTSIDE_MS / 1000} s after`, async () => {
      const inside = await registerOne({
        ...spec,
        auctionTimeMs: Date.now() - ttlSeconds * 1000 + INSIDE_MS,
      });
      const insideId = lastAuctionId();
      // Fired before anything else is done: only its registration and this call take from INSIDE_MS.
      await fire(billingUrl(inside));
      expect('counted');
      const outside = await registerOne({
        ...spec,
        auctionTimeMs: Date.now() - ttlSeconds * 1000 - OUTSIDE_MS,
      });
      const outsideId = lastAuctionId();
      assert.equal(inside.method, method);
      assert.equal(inside.ttlSeconds, ttlSeconds);
      assert.equal(outside.method, method);
      await fire(billingUrl(outside));
      expect('not_counted', 'late');
      assert.deepEqual(recorded(insideId, outsideId), [
        `${insideId} counted/`,
        `${outsideId} not_counted/late`,
      ]);
    });
  }

  it('counts a notice received exactly as its TTL ends and takes its repeat then as a duplicate, but a notice of an auction a millisecond older as late', async () => {
    // Web banners (600 s), their notices fired with Tally's clock held at `atMs`: one auction
    // exactly the TTL before it, one a millisecond more. Without a DSP burl, whose delivery kept
    // once per impression would make the repeat a duplicate too: only the count's claim does.
    const atMs = Date.now() + 2_000;
    const noBurl = { bid: { burl: undefined } };
    const exact = await registerOne({ ...noBurl, auctionTimeMs: atMs - 600_000 });
    const exactId = lastAuctionId();
    const older = await registerOne({ ...noBurl, auctionTimeMs: atMs - 600_001 });
    const olderId = lastAuctionId();
    assert.deepEqual([exact.ttlSeconds, older.ttlSeconds], [600, 600]);
    clock.step(heldAt(atMs));
    try {
      await fire(billingUrl(exact));
      await fire(billingUrl(exact));
      await fire(billingUrl(older));
    } finally {
      clock.step('+0');
    }
    expect('counted');
    expect('not_counted', 'duplicate');
    expect('not_counted', 'late');
    // Each received at the held instant, as recorded.
    assert.deepEqual(
      ledgerEventsOf(tally.dataDir, [exactId, olderId]).map(
        (row) => `${row.auction_id} ${row.outcome}/${row.reason} at ${Number(row.received_ms) - atMs} ms`,
      ),
      [
        `${exactId} counted/ at 0 ms`,
        `${exactId} not_counted/duplicate at 0 ms`,
        `${olderId} not_counted/late at 0 ms`,
      ],
    );
  });

  it('sends the publisher’s retry of a counted burl on to the DSP even after the TTL, as the duplicate it is', async () => {
    // bid.exp cuts the burl's 3 h TTL to 60 s; the DSP's burl of a count is owed all the same.
    // 60 s: time enough to register the win and fire its burl on a loaded 2-core machine; then
    // Tally's clock is moved past the TTL's end.
    const expSeconds = 60;
    const auctionTimeMs = Date.now();
    const win = await registerOne({
      context: { app: {} },
      publisherBurl: true,
      bid: { exp: expSeconds },
      auctionTimeMs,
    });
    const auctionId = lastAuctionId();
    assert.equal(win.ttlSeconds, expSeconds);
    const first = await fire(win.burl);
    expect('counted');
    let retry: Response | undefined;
    await pastEnd(auctionTimeMs + expSeconds * 1000, async () => {
      retry = await fire(win.burl);
    });
    expect('not_counted', 'duplicate');
    assert.equal(first.status, 302);
    assert.deepEqual(
      [retry?.status, retry?.headers.get('location')],
      [302, first.headers.get('location')],
      'the retry after the TTL is sent on to the same DSP burl',
    );
    assert.deepEqual(recorded(auctionId), [`${auctionId} counted/`, `${auctionId} not_counted/duplicate`]);
  });

  it('counts an impression once: a non-billing notice before the billing one, the billing notice again, and three at once', async () => {
    const win = await registerOne({ context: { app: {} }, publisherBurl: true });
    const appId = lastAuctionId();
    await fire(win.noticeUrls.loaded);
    expect('not_counted', 'not_billing_method');
    const first = await fire(win.burl);
    expect('counted');
    const second = await fire(win.burl);
    expect('not_counted', 'duplicate');
    assert.equal(first.status, 302);
    assert.equal(second.status, 302, 'a repeat of the counted burl is sent on to the DSP again');
    assert.deepEqual(recorded(appId), [
      `${appId} not_counted/not_billing_method`,
      `${appId} counted/`,
      `${appId} not_counted/duplicate`,
    ]);
    const video = await registerOne({
      imp: { video: {} },
      bid: { adm: undefined, nurl: 'https://dsp.invalid/v' },
    });
    await Promise.all([
      fire(video.noticeUrls.vast),
      fire(video.noticeUrls.vast),
      fire(video.noticeUrls.vast),
    ]);
    expect('counted');
    expect('not_counted', 'duplicate');
    expect('not_counted', 'duplicate');
    const videoId = lastAuctionId();
    assert.deepEqual(recorded(videoId), [
      `${videoId} counted/`,
      `${videoId} not_counted/duplicate`,
      `${videoId} not_counted/duplicate`,
    ]);
  });

  it('reports which notice arrived beside the method that counts: a player’s VAST impression on a win counted on the publisher’s burl', async () => {
    const seat = 'seat-notice-kinds';
    const win = await registerOne({
      seat,
      context: { app: { publisher: { id: 'pub-ctv' } }, device: { devicetype: 3 } },
      imp: { video: {} },
      publisherBurl: true,
      bid: { adm: undefined, nurl: 'https://dsp.invalid/v' },
    });
    assert.equal(win.method, 'burl');
    await fire(win.noticeUrls.vast);
    expect('not_counted', 'not_billing_method');
    await fire(win.burl);
    expect('counted');
    await fire(win.burl);
    expect('not_counted', 'duplicate');
    const rows = await report('notice,method,outcome,reason', `&seat=${seat}`);
    assert.deepEqual(
      rows.map((row) => [row.notice, row.method, row.outcome, row.reason, row.events]),
      [
        ['burl', 'burl', 'counted', '', 1],
        ['burl', 'burl', 'not_counted', 'duplicate', 1],
        ['vast', 'burl', 'not_counted', 'not_billing_method', 1],
      ],
    );
    assert.deepEqual(
      (await report('notice', `&seat=${seat}&notice=vast`)).map((row) => [row.notice, row.events]),
      [['vast', 1]],
    );
  });

  it('counts an impression once across two registrations of its win, even after the first one’s TTL', async () => {
    // The same impression registered twice: in-app pixel (600 s) and the publisher's burl (3 h).
    // The pixel's TTL ends 60 s from now: time enough to register and fire it on a loaded 2-core
    // machine (6 s was not always); then Tally's clock is moved past its end.
    const pixelTtlEndsMs = Date.now() + 60_000;
    const win = buildWin({ context: { app: {} }, auctionTimeMs: pixelTtlEndsMs - 600_000 });
    const [pixel, billed] = await register(win, { ...win, publisherBurl: true });
    const auctionId = lastAuctionId();
    assert.deepEqual([pixel.method, billed.method], ['adm', 'burl']);
    await fire(billingUrl(pixel));
    expect('counted');
    const duplicate = await fire(billed.burl);
    expect('not_counted', 'duplicate');
    let afterFirstTtl: Response | undefined;
    await pastEnd(pixelTtlEndsMs, async () => {
      afterFirstTtl = await fire(billed.burl);
    });
    expect('not_counted', 'duplicate');
    assert.deepEqual(
      [duplicate.status, afterFirstTtl?.status],
      [200, 200],
      'never a 302 billing the DSP again',
    );
    assert.deepEqual(recorded(auctionId), [
      `${auctionId} counted/`,
      `${auctionId} not_counted/duplicate`,
      `${auctionId} not_counted/duplicate`,
    ]);
  });

  it('counts a win registered again with a later auction time once the first count’s claim has ended: a second billing record without a DSP burl, a duplicate where Tally relays the DSP’s burl', async () => {
    // Web banners (600 s) whose claims end 30 s from now; Tally's clock is then moved past that.
    const claimEndsMs = Date.now() + 30_000;
    const plainWin = buildWin({ bid: { burl: undefined }, auctionTimeMs: claimEndsMs - 600_000 });
    const plainId = lastAuctionId();
    const relayedWin = buildWin({ auctionTimeMs: claimEndsMs - 600_000 });
    const relayedId = lastAuctionId();
    const [plain, relayed] = await register(plainWin, relayedWin);
    await fire(billingUrl(plain));
    await fire(billingUrl(relayed));
    let again: any[] = [];
    await pastEnd(claimEndsMs, async () => {
      const later = { auctionTimeMs: claimEndsMs + 1 };
      again = await register({ ...plainWin, ...later }, { ...relayedWin, ...later });
      await fire(billingUrl(again[0]));
      await fire(billingUrl(again[1]));
    });
    expect('counted');
    expect('counted');
    expect('counted');
    expect('not_counted', 'duplicate');
    assert.deepEqual(recorded(plainId, relayedId), [
      `${plainId} counted/`,
      `${relayedId} counted/`,
      `${plainId} counted/`,
      `${relayedId} not_counted/duplicate`,
    ]);
    await until(
      async () => (await deliveriesTo(`auction=${relayedId}&`)).length > 0,
      'the relayed count’s DSP burl in the outbox',
    );
    assert.equal((await deliveriesTo(`auction=${relayedId}&`)).length, 1);
  });

  it('records non-billing notices (ad loaded, VAST errors) without counting them', async () => {
    const win = await registerOne({
      imp: { video: {} },
      bid: { adm: undefined, nurl: 'https://dsp.invalid/v' },
    });
    const errorUrl = String(win.noticeUrls.vast_error).replace('[ERRORCODE]', '402');
    assert.equal((await fire(errorUrl)).status, 200);
    expect('not_counted', 'not_billing_method');
    const inApp = await registerOne({ context: { app: {} }, publisherBurl: true });
    assert.equal((await fire(inApp.noticeUrls.loaded)).status, 200);
    expect('not_counted', 'not_billing_method');
    const [videoId, appId] = [`auction-${auctionSeq - 1}`, lastAuctionId()];
    assert.deepEqual(recorded(videoId, appId), [
      `${videoId} not_counted/not_billing_method`,
      `${appId} not_counted/not_billing_method`,
    ]);
  });

  it('never counts previews: a test win, AUDIT macro values, the preview flag', async () => {
    const firstId = auctionSeq + 1;
    await fire(billingUrl(await registerOne({ test: true })));
    await fire(`${billingUrl(await registerOne())}?ts=AUDIT`);
    await fire(`${billingUrl(await registerOne())}?preview=1`);
    for (let index = 0; index < 3; index++) expect('not_counted', 'preview');
    const ids = [0, 1, 2].map((index) => `auction-${firstId + index}`);
    assert.deepEqual(
      recorded(...ids),
      ids.map((id) => `${id} not_counted/preview`),
    );
  });

  it('filters prefetches, HEAD requests, bots, blocked addresses and empty agents, and tells them apart only in the ledger', async () => {
    const firstId = auctionSeq + 1;
    const answers = [
      await fire(billingUrl(await registerOne()), { 'sec-purpose': 'prefetch' }),
      await fire(billingUrl(await registerOne()), {}, 'HEAD'),
      await fire(billingUrl(await registerOne()), {
        'user-agent': 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
      }),
      await fire(billingUrl(await registerOne()), {
        'x-device-ip': '203.0.113.20',
        'x-device-user-agent': CHROME,
      }),
      await fire(billingUrl(await registerOne()), { 'user-agent': '' }),
    ];
    expect('not_counted', 'prefetch');
    for (let index = 0; index < 4; index++) expect('not_counted', 'invalid_traffic');
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get('content-type'), 'image/gif');
    }
    const ids = answers.map((_answer, index) => `auction-${firstId + index}`);
    assert.deepEqual(
      recorded(...ids).map((line) => line.slice(line.indexOf(' ') + 1)),
      [
        'not_counted/prefetch',
        'not_counted/invalid_traffic/head_request',
        'not_counted/invalid_traffic/bot_user_agent',
        'not_counted/invalid_traffic/blocked_ip',
        'not_counted/invalid_traffic/empty_user_agent',
      ],
    );
  });

  it('counts a server-to-server notice on the device it names (its IP and agent recorded and screened) and relays those headers to the DSP', async () => {
    const win = await registerOne();
    const response = await fire(billingUrl(win), {
      'user-agent': 'SSAI-Stitcher/2.1',
      'x-device-ip': '198.51.100.77',
      'x-device-user-agent': CHROME,
    });
    expect('counted');
    assert.equal(response.status, 200);
    const auction = `auction-${auctionSeq}`;
    await dsp.waitFor((hits) => hits.some((hit) => hit.query.get('auction') === auction));
    const hit = dsp.hits.find((candidate) => candidate.query.get('auction') === auction);
    assert.equal(hit?.headers['x-device-ip'], '198.51.100.77');
    assert.equal(hit?.headers['x-device-user-agent'], CHROME);
    const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
    try {
      assert.deepEqual(
        db.prepare('SELECT device_ip, user_agent FROM events WHERE auction_id = ?').all(auction),
        [{ device_ip: '198.51.100.77', user_agent: CHROME }],
        'the ledger records the device the server named, not the server',
      );
    } finally {
      db.close();
    }
    // The device's agent is screened, not the server's: a crawler behind a plain server is a bot.
    const crawled = await registerOne();
    await fire(billingUrl(crawled), {
      'x-device-ip': '198.51.100.78',
      'x-device-user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    });
    expect('not_counted', 'invalid_traffic');
    assert.deepEqual(recorded(lastAuctionId()), [
      `${lastAuctionId()} not_counted/invalid_traffic/bot_user_agent`,
    ]);
  });

  it('answers every tampered or foreign token with the same GIF and records it as invalid_token, never as the win it was made from', async () => {
    const url = billingUrl(await registerOne());
    const genuineId = lastAuctionId();
    const invalidBefore = invalidTokenEvents();
    const token = url.split('/n/')[1] ?? '';
    const tampered = token.slice(0, 40) + (token[40] === 'A' ? 'B' : 'A') + token.slice(41);
    const foreignRing = { signingKeyId: 1, keys: new Map([[1, generateKey()]]) };
    const foreign = sealToken(
      {
        kind: 'adm',
        accountId: 1,
        auctionId: 'forged',
        impId: '1',
        bidId: 'b',
        seat: 's',
        adId: '',
        bidResponseId: '',
        priceMicros: 99_000_000,
        bidMicros: 0,
        currency: 'USD',
        format: 'banner',
        channel: 'web',
        method: 'adm',
        ttlSeconds: 600,
        auctionTimeMs: Date.now(),
        publisherId: 'p',
        test: false,
        dspBurl: `${dsp.url}/forged`,
      },
      foreignRing,
    );
    for (const bad of [tampered, token.slice(0, 20), foreign, 'garbage']) {
      const response = await fire(`${tally.url}/n/${bad}`);
      expect('not_counted', 'invalid_token');
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'image/gif');
    }
    assert.equal(invalidTokenEvents() - invalidBefore, 4, 'each bad token is one invalid_token event');
    assert.deepEqual(recorded(genuineId, 'forged'), [], 'no bad token was taken for a win');
    const rows = await report('outcome,reason,format,seat,publisher', '&reason=invalid_token');
    assert.deepEqual(
      rows.map((row) => [row.format, row.seat, row.publisher]),
      [['', '', '']],
    );
    assert.deepEqual(
      dsp.hits.filter((hit) => hit.path === '/forged'),
      [],
      'no forged burl was called',
    );
  });

  it('relays the DSP burl with its macros filled only for counted impressions', async () => {
    const counted = await registerOne({ clearingPrice: 1, bidResponseId: 'response-7' });
    assert.deepEqual(counted.warnings, [], 'TALLY_BURL_PRIVATE_NETWORKS=allow: the loopback DSP is called');
    const countedAuction = lastAuctionId();
    const late = await registerOne({ auctionTimeMs: Date.now() - 700_000 });
    const lateAuction = lastAuctionId();
    await fire(billingUrl(counted));
    expect('counted');
    await fire(billingUrl(late));
    expect('not_counted', 'late');
    // The outbox is written in the notice's own transaction, before the answer: it is final now.
    assert.equal((await deliveriesTo(`auction=${countedAuction}&`)).length, 1);
    assert.deepEqual(await deliveriesTo(`auction=${lateAuction}&`), [], 'a late notice bills nobody');
    await dsp.waitFor((hits) => hits.some((hit) => hit.query.get('auction') === countedAuction));
    const hits = dsp.hits.filter((candidate) => candidate.query.get('auction') === countedAuction);
    assert.equal(hits.length, 1);
    const hit = hits[0];
    assert.equal(hit?.query.get('price'), '1');
    assert.equal(hit?.query.get('cur'), 'USD');
    // The market bid ratio: the clearing price over the bid's own 1.25.
    assert.equal(hit?.query.get('mbr'), '0.8');
    assert.equal(hit?.query.get('bidid'), 'response-7');
    assert.deepEqual(
      dsp.hits.filter((candidate) => candidate.query.get('auction') === lateAuction),
      [],
      'the late impression’s burl was not called',
    );
  });

  it('sends the DSP exactly one burl per counted impression and none for a notice that did not count or that was redirected', async () => {
    const burl = `${dsp.url}/exact?auction=\${AUCTION_ID}&imp=\${AUCTION_IMP_ID}&seat=\${AUCTION_SEAT_ID}&price=\${AUCTION_PRICE}&cur=\${AUCTION_CURRENCY}&bidid=\${AUCTION_BID_ID}`;
    const billed = new Map<string, string>();
    const win = async (spec: WinSpec = {}) => {
      const result = await registerOne({ ...spec, bid: { burl, ...spec.bid } });
      return { result, auctionId: lastAuctionId() };
    };

    const once = await win({ clearingPrice: 0.75, bidResponseId: 'resp-once' });
    await fire(billingUrl(once.result));
    expect('counted');
    billed.set(once.auctionId, '0.75');

    const twice = await win({ seat: 'seat-2' });
    await fire(billingUrl(twice.result));
    await fire(billingUrl(twice.result));
    expect('counted');
    expect('not_counted', 'duplicate');
    billed.set(twice.auctionId, '1.25');

    const video = await win({ imp: { video: {} }, bid: { adm: undefined, nurl: 'https://dsp.invalid/v' } });
    await Promise.all([fire(video.result.noticeUrls.vast), fire(video.result.noticeUrls.vast)]);
    expect('counted');
    expect('not_counted', 'duplicate');
    billed.set(video.auctionId, '1.25');

    // A CTV banner's burl is relayed once its pixel counts; none is put in its markup.
    const ctvBanner = await win({ context: { app: {}, device: { devicetype: 3 } } });
    assert.equal(ctvBanner.result.channel, 'ctv');
    assert.ok(!ctvBanner.result.adm?.includes('/exact?'), ctvBanner.result.adm ?? '');
    await fire(billingUrl(ctvBanner.result));
    expect('counted');
    billed.set(ctvBanner.auctionId, '1.25');

    // One impression registered twice: its pixel counts, its publisher burl is then a duplicate.
    const both = buildWin({ bid: { burl, price: 2 } });
    const bothId = lastAuctionId();
    const [pixel, publisherBurl] = await register(both, { ...both, publisherBurl: true });
    assert.deepEqual([pixel.method, publisherBurl.method], ['adm', 'burl']);
    await fire(billingUrl(pixel));
    assert.equal((await fire(publisherBurl.burl)).status, 200);
    expect('counted');
    expect('not_counted', 'duplicate');
    billed.set(bothId, '2');

    const notBilled: string[] = [];
    const late = await win({ auctionTimeMs: Date.now() - 601_000 });
    await fire(billingUrl(late.result));
    expect('not_counted', 'late');
    const preview = await win({ test: true });
    await fire(billingUrl(preview.result));
    expect('not_counted', 'preview');
    const bot = await win();
    await fire(billingUrl(bot.result), { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    expect('not_counted', 'invalid_traffic');
    const loadedOnly = await win({ context: { app: {} }, publisherBurl: true });
    await fire(loadedOnly.result.noticeUrls.loaded);
    expect('not_counted', 'not_billing_method');
    // A counted publisher burl bills the DSP through its 302, not server-side.
    const redirected = await win({ context: { app: {} }, publisherBurl: true });
    assert.equal((await fire(redirected.result.burl)).status, 302);
    expect('counted');
    notBilled.push(
      late.auctionId,
      preview.auctionId,
      bot.auctionId,
      loadedOnly.auctionId,
      redirected.auctionId,
    );

    const expected = [...billed.keys()].sort();
    const listed = await deliveriesTo('/exact?');
    const auctionsOf = (deliveries: any[]) =>
      deliveries.map((delivery) => new URL(delivery.url).searchParams.get('auction')).sort();
    const [kept, queued] = [true, false].map((redirect) =>
      auctionsOf(listed.filter((delivery) => (delivery.status === 'redirected') === redirect)),
    );
    assert.deepEqual(queued, expected, 'the outbox queues one delivery per counted impression it relays');
    assert.deepEqual(kept, [redirected.auctionId], 'the impression billed by a 302 is kept as redirected');
    await dsp.waitFor((hits) => expected.every((id) => hits.some((hit) => hit.query.get('auction') === id)));
    // Every queued delivery has now been delivered: the DSP got all it will ever get for these.
    const exact = dsp.hits.filter((hit) => hit.path === '/exact');
    assert.deepEqual(exact.map((hit) => hit.query.get('auction')).sort(), expected);
    for (const id of notBilled) assert.ok(!exact.some((hit) => hit.query.get('auction') === id), id);
    for (const hit of exact) {
      const auctionId = hit.query.get('auction') ?? '';
      assert.deepEqual(
        {
          imp: hit.query.get('imp'),
          seat: hit.query.get('seat'),
          price: hit.query.get('price'),
          cur: hit.query.get('cur'),
          bidid: hit.query.get('bidid'),
        },
        {
          imp: '1',
          seat: auctionId === twice.auctionId ? 'seat-2' : 'seat-1',
          price: billed.get(auctionId),
          cur: 'USD',
          bidid: auctionId === once.auctionId ? 'resp-once' : '',
        },
        auctionId,
      );
    }
  });

  it('redirects a counted publisher burl to the DSP burl and sends nothing server-side for it', async () => {
    const win = await registerOne({ context: { app: {} }, publisherBurl: true });
    const response = await fire(win.burl);
    expect('counted');
    assert.equal(response.status, 302);
    const location = new URL(response.headers.get('location') ?? '');
    assert.equal(location.origin, dsp.url);
    assert.equal(location.pathname, '/bill');
    assert.equal(location.searchParams.get('price'), '1.25');
    assert.equal(location.searchParams.get('auction'), `auction-${auctionSeq}`);
    assert.equal(location.searchParams.get('cur'), 'USD');
    // The publisher's SDK follows the redirect: the DSP is billed by that call.
    assert.equal((await fire(location.href)).status, 200);
    assert.ok(
      dsp.hits.some((hit) => hit.path === '/bill' && hit.query.get('auction') === `auction-${auctionSeq}`),
      `the DSP was billed for auction-${auctionSeq} through the redirect`,
    );
    // Kept as redirected, with the URL the publisher was sent to, and never called by Tally.
    const deliveries = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/deliveries?auctionId=auction-${auctionSeq}`,
    );
    assert.deepEqual(
      deliveries.body.deliveries.map((delivery: any) => [delivery.status, delivery.url, delivery.attempts]),
      [['redirected', location.href, 0]],
    );
  });

  it('counts a publisher-burl impression once across two registrations of its win, after the first one’s claim: the second count redirects to the same DSP burl', async () => {
    // The first registration's TTL ends 60 s from now: time enough to register and fire it on a
    // loaded machine; then Tally's clock is moved past its end.
    const { ttlSeconds } = await registerOne({ context: { app: {} }, publisherBurl: true });
    const claimEndsMs = Date.now() + 60_000;
    const spec = { context: { app: {} }, publisherBurl: true };
    const win = buildWin({ ...spec, auctionTimeMs: claimEndsMs - ttlSeconds * 1000 });
    const auctionId = lastAuctionId();
    const [first] = await register(win);
    const counted = await fire(first.burl);
    expect('counted');
    assert.equal(counted.status, 302);
    let repeat: Response | undefined;
    await pastEnd(claimEndsMs, async () => {
      // The same win registered again (a retried call, its auction time Tally's now), its burl fired.
      const [again] = await register({ ...win, auctionTimeMs: claimEndsMs + 1000 });
      repeat = await fire(again.burl);
    });
    expect('not_counted', 'duplicate');
    assert.deepEqual(
      [repeat?.status, repeat?.headers.get('location')],
      [302, counted.headers.get('location')],
      'sent on to the DSP burl the count was, with the impression’s time: the DSP bills it once',
    );
    assert.deepEqual(recorded(auctionId), [`${auctionId} counted/`, `${auctionId} not_counted/duplicate`]);
  });

  it('sends a repeat through another registration of the win to the DSP burl the count named, at the price billed, not to the burl that registration would fill', async () => {
    const win = buildWin({ context: { app: {} }, publisherBurl: true }) as { bid: object };
    const auctionId = lastAuctionId();
    const [first] = await register(win);
    const counted = await fire(first.burl);
    expect('counted');
    assert.equal(counted.status, 302);
    // The same impression registered again, at another price and with another DSP burl.
    const otherBurl = `${dsp.url}/other?price=\${AUCTION_PRICE}`;
    const [again] = await register({ ...win, clearingPrice: 9.99, bid: { ...win.bid, burl: otherBurl } });
    const repeat = await fire(again.burl);
    expect('not_counted', 'duplicate');
    assert.deepEqual(
      [repeat.status, repeat.headers.get('location')],
      [302, counted.headers.get('location')],
      'the publisher is sent where the count sent it: the DSP bills the impression once, at its price',
    );
    assert.deepEqual(recorded(auctionId), [`${auctionId} counted/`, `${auctionId} not_counted/duplicate`]);
    const deliveries = await api(tally, tally.adminKey, 'GET', `/v1/deliveries?auctionId=${auctionId}`);
    assert.deepEqual(
      deliveries.body.deliveries.map((delivery: any) => [delivery.status, delivery.url]),
      [['redirected', counted.headers.get('location')]],
    );
  });

  it("calls the DSP from the outbox, rather than redirect to it, when the account's redirect allow-list does not hold its host", async () => {
    const allowlist = (body: object) =>
      api(tally, tally.adminKey, 'PUT', '/v1/account/redirect-allowlist', body);
    assert.equal((await allowlist({ enabled: true, domains: ['elsewhere.example'] })).status, 200);
    try {
      const win = await registerOne({ context: { app: {} }, publisherBurl: true });
      const response = await fire(win.burl);
      expect('counted');
      assert.equal(response.status, 200, 'the plain answer, not a redirect off the allow-list');
      const auction = `auction-${auctionSeq}`;
      await dsp.waitFor((hits) =>
        hits.some((hit) => hit.path === '/bill' && hit.query.get('auction') === auction),
      );
    } finally {
      assert.equal((await allowlist({ enabled: false, domains: [] })).status, 200);
    }
  });

  it('redirects a repeat of a counted publisher burl to the DSP again, so that a publisher retrying after the DSP failed bills it once', async () => {
    const win = await registerOne({ context: { app: {} }, publisherBurl: true });
    const auctionId = `auction-${auctionSeq}`;
    const billedHits = () =>
      dsp.hits.filter((hit) => hit.path === '/bill' && hit.query.get('auction') === auctionId).length;
    dsp.failNext('/bill', 1);
    const first = await fire(win.burl);
    expect('counted');
    assert.equal(first.status, 302);
    assert.equal((await fire(first.headers.get('location') ?? '')).status, 500, 'the DSP fails');
    assert.equal(billedHits(), 0);
    // The publisher retries Tally's burl: counted once already, it is sent on to the DSP again.
    const retry = await fire(win.burl);
    expect('not_counted', 'duplicate');
    assert.equal(retry.status, 302);
    assert.equal(retry.headers.get('location'), first.headers.get('location'));
    assert.equal((await fire(retry.headers.get('location') ?? '')).status, 200);
    assert.equal(billedHits(), 1);
    assert.deepEqual(recorded(auctionId), [`${auctionId} counted/`, `${auctionId} not_counted/duplicate`]);
  });

  it("calls the DSP from the outbox, once, for a repeat of a burl counted by a 302 after the account's allow-list stopped admitting its host, and redirects it nowhere", async () => {
    const allowlist = (body: object) =>
      api(tally, tally.adminKey, 'PUT', '/v1/account/redirect-allowlist', body);
    const win = await registerOne({ context: { app: {} }, publisherBurl: true });
    const auctionId = `auction-${auctionSeq}`;
    const tallyCalls = () =>
      dsp.hits.filter((hit) => hit.path === '/bill' && hit.query.get('auction') === auctionId);
    // Counted while the allow-list admits any host: 302 to the DSP, which the publisher's client
    // never reaches (it is not followed here).
    const first = await fire(win.burl);
    expect('counted');
    assert.equal(first.status, 302);
    const location = first.headers.get('location') ?? '';
    assert.equal((await allowlist({ enabled: true, domains: ['elsewhere.example'] })).status, 200);
    try {
      // The publisher retries: the DSP's host is no longer admitted, so no 302 goes there; the
      // burl the 302 named is called from the outbox instead.
      const retry = await fire(win.burl);
      expect('not_counted', 'duplicate');
      assert.equal(retry.status, 200, 'the plain answer, not a redirect off the allow-list');
      await dsp.waitFor((hits) =>
        hits.some((hit) => hit.path === '/bill' && hit.query.get('auction') === auctionId),
      );
      const [call] = tallyCalls();
      assert.equal(
        `${dsp.url}/bill?${call?.query.toString()}`,
        location,
        'the very URL the 302 sent, the impression’s',
      );
      assert.match(String(call?.headers['user-agent']), /^Tally-burl-relay\//);
      // Another retry queues nothing more: the impression's delivery is the outbox's now.
      assert.equal((await fire(win.burl)).status, 200);
      expect('not_counted', 'duplicate');
      // The DSP answered; the outbox marks the delivery delivered right after, on its own thread.
      const deliveries: any[] = await until(async () => {
        const listed = await api(tally, tally.adminKey, 'GET', `/v1/deliveries?auctionId=${auctionId}`);
        return listed.body.deliveries[0]?.status === 'delivered' && listed.body.deliveries;
      }, `the delivery of ${auctionId} delivered`);
      assert.deepEqual(
        deliveries.map((delivery) => [delivery.status, delivery.url, delivery.attempts]),
        [['delivered', location, 1]],
      );
      assert.equal(call?.headers['x-tally-delivery-id'], String(deliveries[0]?.id));
    } finally {
      assert.equal((await allowlist({ enabled: false, domains: [] })).status, 200);
    }
    // Admitted again: a repeat gets the plain answer, as after any count whose burl the outbox sent.
    assert.equal((await fire(win.burl)).status, 200);
    expect('not_counted', 'duplicate');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(tallyCalls().length, 1, 'the DSP was called once, from the outbox');
    assert.deepEqual(recorded(auctionId), [
      `${auctionId} counted/`,
      `${auctionId} not_counted/duplicate`,
      `${auctionId} not_counted/duplicate`,
      `${auctionId} not_counted/duplicate`,
    ]);
  });

  it('queues a DSP burl unfit for a redirect in the outbox instead of dropping it', async () => {
    const win = await registerOne({
      context: { app: {} },
      publisherBurl: true,
      bid: { burl: 'ftp://dsp.example/bill?a=${AUCTION_ID}' },
    });
    const response = await fire(win.burl);
    expect('counted');
    assert.equal(response.status, 200);
    const listed = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?limit=1000');
    assert.ok(
      listed.body.deliveries.some(
        (delivery: any) => delivery.url === `ftp://dsp.example/bill?a=auction-${auctionSeq}`,
      ),
      `the ftp: burl of auction-${auctionSeq} is listed among the deliveries`,
    );
  });

  it('retries a failing DSP until it accepts the burl', async () => {
    const win = await registerOne({ bid: { burl: `${dsp.url}/flaky?auction=\${AUCTION_ID}` } });
    dsp.failNext('/flaky', 3);
    await fire(billingUrl(win));
    expect('counted');
    await dsp.waitFor((hits) => hits.some((hit) => hit.path === '/flaky'));
    // The DSP answered; the dispatcher marks the delivery delivered right after, on its own thread.
    const delivery = await until(async () => {
      const delivered = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=delivered&limit=1000');
      return delivered.body.deliveries.find((candidate: any) => candidate.url.includes('/flaky'));
    }, 'the delivery to /flaky delivered');
    assert.equal(delivery.attempts, 4);
    assert.equal(dsp.hits.filter((hit) => hit.path === '/flaky').length, 1);
  });

  it('marks a delivery dead at its deadline and sends it after the replay-dead command', async () => {
    // The test's own DSP refuses this path until the replay: no port picked now and listened on
    // later, which another process may take meanwhile.
    dsp.failNext('/late-dsp', Number.MAX_SAFE_INTEGER);
    const win = await registerOne({
      imp: { video: {} },
      context: { app: {} },
      // The deadline is 20 s away: time enough to register the win and fire its notice on a
      // loaded machine (6 s was not always).
      auctionTimeMs: Date.now() - 3 * 3_600_000 + 20_000,
      bid: {
        adm: undefined,
        nurl: 'https://dsp.invalid/v',
        burl: `${dsp.url}/late-dsp?auction=\${AUCTION_ID}`,
      },
    });
    await fire(billingUrl(win));
    expect('counted');
    const deadline = Date.now() + 60_000;
    let dead: any;
    while (dead === undefined && Date.now() < deadline) {
      const listed = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=dead');
      dead = listed.body.deliveries.find((delivery: any) => delivery.url.includes('/late-dsp'));
      if (dead === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(dead !== undefined, 'the delivery died at its deadline');
    assert.match(dead.lastError, /500/);
    dsp.failNext('/late-dsp', 0);
    const replay = await runCli(['replay-dead'], { TALLY_DATA_DIR: tally.dataDir });
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(
      replay.stdout,
      /^(1 dead delivery is|([2-9]|[1-9]\d+) dead deliveries are) pending again\n$/,
    );
    await dsp.waitFor((hits) => hits.some((hit) => hit.path === '/late-dsp'));
  });

  it('follows the DSP’s redirects when relaying', async () => {
    const win = await registerOne({ bid: { burl: `${dsp.url}/hop?auction=\${AUCTION_ID}` } });
    await fire(billingUrl(win));
    expect('counted');
    const auction = `auction-${auctionSeq}`;
    await dsp.waitFor((hits) =>
      hits.some((hit) => hit.path === '/landed' && hit.query.get('auction') === auction),
    );
  });

  it('answers bad API calls with the error envelope, a stable code and a request id', async () => {
    const noKey = await fetch(`${tally.url}/v1/wins`, { method: 'POST' });
    const body = (await noKey.json()) as any;
    assert.equal(noKey.status, 401);
    assert.equal(body.error.code, 'UNAUTHENTICATED');
    assert.ok(body.error.requestId.length > 0, 'the 401 names a request id');
    const badJson = await fetch(`${tally.url}/v1/wins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tally.adminKey}`, 'content-type': 'application/json' },
      body: '{"wins": [',
    });
    assert.equal(badJson.status, 400);
    assert.equal(((await badJson.json()) as any).error.code, 'INVALID_JSON');
    const badEscape = await api(tally, tally.adminKey, 'GET', '/v1/advertisers/%E0%A4%A');
    assert.equal(badEscape.status, 400);
    assert.equal(badEscape.body.error.code, 'VALIDATION_FAILED');
    const badReport = await api(tally, tally.adminKey, 'GET', '/v1/reports?from=yesterday&to=now');
    assert.equal(badReport.status, 400);
    assert.match(badReport.body.error.message, /RFC 3339/);
    const mixed = await register(buildWin(), { request: {}, seat: 's', bid: {} });
    assert.equal(mixed[0].ok, true);
    assert.equal(mixed[1].ok, false);
    assert.equal(mixed[1].error.code, 'VALIDATION_FAILED');
  });

  it('answers requests it cannot read (a target that is not a URL, malformed HTTP, a head too large) with the error envelope, and keeps serving', async () => {
    const cases = [
      ['GET http://[x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'MALFORMED_REQUEST'],
      ['GET /v1/reports HTTP/1.1\r\nHost x\r\n\r\n', 400, 'MALFORMED_REQUEST'],
      ['GET /v1/advertisers HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'MALFORMED_REQUEST'],
      ['GET /n/abc HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'MALFORMED_REQUEST'],
      [
        'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nConnection: close\r\n\r\n',
        417,
        'EXPECTATION_FAILED',
      ],
      [
        'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, bogus\r\nConnection: close\r\n\r\n',
        417,
        'EXPECTATION_FAILED',
      ],
      [
        `GET /v1/reports HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        431,
        'HEADERS_TOO_LARGE',
      ],
    ] as const;
    for (const [request, status, code] of cases) {
      const raw = await exchange(request);
      assert.match(raw, new RegExp(`^HTTP/1\\.1 ${status} `));
      const requestId = /\r\nX-Request-Id: ([\w-]+)\r\n/i.exec(raw)?.[1];
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      assert.equal(body.error.code, code);
      assert.equal(body.error.requestId, requestId);
      assert.match(body.error.message, /: /);
    }
    assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
  });

  it('records a notice whose target is in absolute form or has dot segments as the notice it names', async () => {
    const notice = new URL(billingUrl(await registerOne()));
    const path = `${notice.pathname}${notice.search}`;
    for (const target of [`http://tally.test${path}`, `/.${path}`, `/v1/..${path}`]) {
      const raw = await exchange(
        `GET ${target} HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: ${CHROME}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(raw, /^HTTP\/1\.1 200 [^]*\r\nContent-Type: image\/gif\r\n/i, target);
    }
    expect('counted');
    expect('not_counted', 'duplicate');
    expect('not_counted', 'duplicate');
    const id = lastAuctionId();
    assert.deepEqual(recorded(id), [
      `${id} counted/`,
      `${id} not_counted/duplicate`,
      `${id} not_counted/duplicate`,
    ]);
  });

  it('counts a notice whose URL a player appended a cachebuster to with & instead of ?, or a / to', async () => {
    for (const [suffix, status] of [
      ['&cb=1764851234', 200],
      ['/', 200],
      ['&f=b', 204],
    ] as const) {
      const url = billingUrl(await registerOne());
      assert.equal(new URL(url).search, '', 'a notice URL has no query to append to');
      assert.equal((await fire(`${url}${suffix}`)).status, status, suffix);
      expect('counted');
      assert.deepEqual(recorded(lastAuctionId()), [`${lastAuctionId()} counted/`], suffix);
    }
  });

  it('ends the connection after answering a notice whose body never all arrived, rather than answer it twice', async () => {
    const notice = new URL(billingUrl(await registerOne()));
    const socket = connect(tally.port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    // The answer waits for the notice's commit, which a loaded machine can hold up for seconds;
    // a connection left open would stay so until the lane's 65 s idle timeout.
    const ended = new Promise<boolean>((resolve) => {
      socket.on('end', () => resolve(true));
      setTimeout(() => resolve(false), 30_000).unref();
    });
    socket.write(
      `POST ${notice.pathname}${notice.search} HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: ${CHROME}\r\n` +
        'Content-Type: text/plain\r\nContent-Length: 100\r\n\r\nab',
    );
    expect('counted');
    const answeredAndEnded = await ended;
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 200 [^]*\r\nConnection: close\r\n/i);
    assert.equal(text.match(/HTTP\/1\.1 /g)?.length, 1, text);
    assert.equal(answeredAndEnded, true, 'the connection was left open');
  });

  it('serves metrics, the OpenAPI description and the OMID script', async () => {
    const metrics = await (await fetch(`${tally.url}/metrics`)).text();
    assert.match(
      metrics,
      /tally_notices_total\{outcome="counted",reason="",impression_type="exchange"\} \d+/,
    );
    assert.match(metrics, /tally_commit_batch_size_count \d+/);
    assert.match(metrics, /tally_burl_deliveries_total\{status="delivered"\} \d+/);
    assert.match(metrics, /tally_burl_outbox\{status="delivered"\} [1-9]\d*/);
    assert.match(metrics, /tally_commit_queue_depth \d+/);
    assert.match(metrics, /tally_commit_latency_seconds_bucket\{le="0\.001"\} \d+/);
    const docs = (await (await fetch(`${tally.url}/docs`)).json()) as any;
    assert.equal(docs.openapi, '3.1.0');
    assert.ok(docs.paths['/v1/wins'], '/docs documents POST /v1/wins');
    const script = await fetch(`${tally.url}/omid/verify.js`);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.match(await script.text(), /data-tally-notice/);
  });

  it('exports report cells that a spreadsheet would run as formulas as plain text', async () => {
    for (const seat of ['=HYPERLINK("http://evil.example","x")', 'x;=1+1']) {
      const win = await registerOne({ seat });
      await fire(billingUrl(win));
      expect('counted');
    }
    const from = new Date(hourStartMs(Date.now()) - 86_400_000).toISOString();
    const to = new Date(hourStartMs(Date.now()) + 3_600_000).toISOString();
    const csv = await fetch(`${tally.url}/v1/reports?from=${from}&to=${to}&groupBy=seat&format=csv`, {
      headers: { authorization: `Bearer ${tally.adminKey}` },
    });
    const text = await csv.text();
    assert.ok(text.includes(`"'=HYPERLINK(""http://evil.example"",""x"")"`), text);
    assert.doesNotMatch(text, /(^|\r\n)=/, 'no line begins with a formula');
    // Where the list separator is a semicolon, an unquoted `x;=1+1` would split into a formula cell.
    assert.ok(text.includes('\r\n"x;=1+1",'), text);
  });

  it('refuses report filters that could never match', async () => {
    for (const filter of ['tracker=abc', 'hour=yesterday', 'cachebusterMissing=maybe']) {
      const response = await api(
        tally,
        tally.adminKey,
        'GET',
        `/v1/reports?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&${filter}`,
      );
      assert.equal(response.status, 400, filter);
      assert.equal(response.body.error.code, 'VALIDATION_FAILED');
    }
  });

  it('reports add up to the notices fired, by outcome and reason, in JSON and in CSV', async () => {
    const rows = await report('outcome,reason');
    const reported = new Map(rows.map((row) => [`${row.outcome}/${row.reason}`, row.events]));
    assert.deepEqual(Object.fromEntries([...reported].sort()), Object.fromEntries([...fired].sort()));
    const total = [...fired.values()].reduce((sum, count) => sum + count, 0);
    const from = new Date(hourStartMs(Date.now()) - 2 * 86_400_000).toISOString();
    const to = firedUntil();
    const csv = await fetch(
      `${tally.url}/v1/reports?from=${from}&to=${to}&groupBy=outcome,reason&format=csv`,
      { headers: { authorization: `Bearer ${tally.adminKey}` } },
    );
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines[0], 'outcome,reason,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros');
    const csvRows = lines.slice(1).map((line) => line.split(','));
    assert.deepEqual(
      Object.fromEntries(
        csvRows.map(([outcome, reason, events]) => [`${outcome}/${reason}`, Number(events)]).sort(),
      ),
      Object.fromEntries([...fired].sort()),
    );
    assert.equal(
      csvRows.reduce((sum, row) => sum + Number(row[2]), 0),
      total,
    );
    // The money in CSV is the money in JSON, row for row.
    for (const row of rows) {
      const line = csvRows.find(([outcome, reason]) => outcome === row.outcome && reason === row.reason);
      assert.equal(Number(line?.[3]), row.priceMicros, `${row.outcome}/${row.reason}`);
    }
    const viaAccept = await fetch(`${tally.url}/v1/reports?from=${from}&to=${to}&groupBy=hour,format`, {
      headers: { authorization: `Bearer ${tally.adminKey}`, accept: 'text/csv' },
    });
    assert.match((await viaAccept.text()).split('\r\n')[0] ?? '', /^hour,format,events/);
    const counted = rows.find((row) => row.outcome === 'counted');
    assert.equal(counted?.events, fired.get('counted/'));
    // The hourly rollups behind the report hold the money of the raw counted notices.
    const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
    try {
      const raw = db
        .prepare(`SELECT COALESCE(SUM(price_micros), 0) FROM events WHERE outcome = 'counted'`)
        .pluck()
        .get() as number;
      assert.ok(raw > 0, `the counted events hold a price; got ${raw}`);
      assert.equal(counted?.priceMicros, raw);
    } finally {
      db.close();
    }
  });
});
