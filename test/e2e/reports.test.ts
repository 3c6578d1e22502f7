import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';
import { publisherReaderKey } from '../support/publisher-reader.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * The report window over real HTTP: on the hour, RFC 3339 with an offset, and the output chosen
 * by `format` before `Accept`. The server runs in New York time, where a time without an offset
 * would be read five hours off.
 */

let tally: TestServer;
/** Start of the UTC hour the one counted impression was served in. */
let servedHourMs: number;

/** A time as the API answers it (UTC, `Z`). */
const iso = (ms: number) => new Date(ms).toISOString();
/** The same time written at UTC−05:00, e.g. `2026-12-03T06:00:00-05:00` for 11:00 UTC. */
const newYork = (ms: number) => `${iso(ms - 5 * HOUR_MS).slice(0, 19)}-05:00`;

async function report(query: string): Promise<{ status: number; body: any; headers: Headers }> {
  return api(tally, tally.adminKey, 'GET', `/v1/reports?${query}`);
}

/** The events a report counts (200 expected). */
async function events(query: string): Promise<number> {
  const response = await report(query);
  assert.equal(response.status, 200, `${query}: ${JSON.stringify(response.body)}`);
  return response.body.rows.reduce((sum: number, row: any) => sum + row.events, 0);
}

/** Asserts a 400 in the API's error envelope, its message matching `message` (or equal to it). */
async function refused(query: string, message: RegExp | string): Promise<void> {
  const response = await report(query);
  assert.equal(response.status, 400, `${query}: ${JSON.stringify(response.body)}`);
  assert.equal(response.body.error.code, 'VALIDATION_FAILED');
  assert.equal(response.body.error.requestId, response.headers.get('x-request-id'));
  if (typeof message === 'string') assert.equal(response.body.error.message, message, query);
  else assert.match(response.body.error.message, message, query);
}

/** A report fetched with an `Accept` header: its content type and body. */
async function withAccept(query: string, accept: string): Promise<{ type: string; text: string }> {
  const response = await fetch(`${tally.url}/v1/reports?${query}`, {
    headers: { authorization: `Bearer ${tally.adminKey}`, accept },
  });
  assert.equal(response.status, 200);
  return { type: response.headers.get('content-type') ?? '', text: await response.text() };
}

before(async () => {
  tally = await startServer({ TZ: 'America/New_York' });
  const win = {
    request: { id: 'auction-1', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
    seat: 's1',
    bid: { id: 'b1', impid: '1', price: 1.5, adm: '<div>ad</div>' },
  };
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
  const [result] = registered.body.results;
  assert.equal(result.ok, true, JSON.stringify(result));
  const notice = await fetch(result.noticeUrls[result.method], { headers: { 'user-agent': CHROME } });
  assert.equal(notice.status, 200);
  const hourMs = hourStartMs(Date.now());
  const rows = (
    await report(`from=${iso(hourMs - HOUR_MS)}&to=${iso(hourMs + HOUR_MS)}&groupBy=hour,outcome`)
  ).body.rows;
  assert.deepEqual(
    rows.map((row: any) => [row.outcome, row.events]),
    [['counted', 1]],
  );
  servedHourMs = Date.parse(rows[0].hour);
});

after(async () => {
  await tally?.dispose();
});

describe('report windows and output', () => {
  it('refuses a from or to that is not on the hour, so that back-to-back windows never count an hour twice', async () => {
    const h = servedHourMs;
    const onTheHour = (name: string, exampleMs: number) =>
      `${name} must be on the hour in UTC (the time it names, its offset applied, has minutes and seconds zero), e.g. ${iso(exampleMs).replace('.000', '')}: reports are by the UTC hour the impression was served`;
    // Each suggests the hour that keeps the time sent in the window: for to, the next.
    await refused(`from=${iso(h)}&to=${iso(h + HOUR_MS / 2)}`, onTheHour('to', h + HOUR_MS));
    await refused(`from=${iso(h + HOUR_MS / 2)}&to=${iso(h + HOUR_MS)}`, onTheHour('from', h));
    const backToBack: number[] = [];
    for (const startMs of [h - HOUR_MS, h, h + HOUR_MS]) {
      backToBack.push(await events(`from=${iso(startMs)}&to=${iso(startMs + HOUR_MS)}`));
    }
    assert.deepEqual(backToBack, [0, 1, 0]);
    assert.equal(await events(`from=${iso(h - HOUR_MS)}&to=${iso(h + 2 * HOUR_MS)}`), 1);
  });

  it('reads from and to as RFC 3339 with their offset, never in the server’s time zone, and refuses a time without an offset or a bare number', async () => {
    const h = servedHourMs;
    const shifted = await report(`from=${newYork(h)}&to=${newYork(h + HOUR_MS)}`);
    assert.equal(shifted.status, 200);
    assert.deepEqual([shifted.body.from, shifted.body.to], [iso(h), iso(h + HOUR_MS)]);
    assert.equal(shifted.body.rows[0]?.events, 1);
    const day = iso(h).slice(0, 10);
    assert.equal(await events(`from=${day}&to=${iso(h + HOUR_MS)}`), 1, 'a date is 00:00 UTC');
    const forms = /must be an RFC 3339 date-time with its offset \(Z or ±hh:mm\)/;
    await refused(`from=${iso(h).slice(0, 19)}&to=${iso(h + HOUR_MS)}`, forms);
    await refused('from=0&to=12', forms);
    await refused(`from=${iso(h).slice(0, 19)}+00:00&to=${iso(h + HOUR_MS)}`, /send a \+ in a URL as %2B/);
    await refused('from=2026-02-30&to=2026-03-02', /^from is not a real date and time/);
  });

  it('refuses an hour filter that is not on the hour and a day filter that is not a UTC day, instead of answering no rows', async () => {
    const h = servedHourMs;
    const range = `from=${iso(h - HOUR_MS)}&to=${iso(h + HOUR_MS)}`;
    assert.equal(await events(`${range}&hour=${iso(h)}`), 1);
    assert.equal(await events(`${range}&hour=${newYork(h)}`), 1);
    assert.equal(await events(`${range}&day=${iso(h).slice(0, 10)}`), 1);
    await refused(`${range}&hour=${iso(h + HOUR_MS / 2)}`, /must be the start of a UTC hour/);
    await refused(`${range}&hour=${iso(h).slice(0, 19)}`, /must be an RFC 3339 date-time with its offset/);
    await refused(
      `${range}&day=${iso(h).slice(0, 10)}T00:00:00%2B01:00`,
      /must be the start of a UTC day, e\.g\. 2026-11-22 or 2026-11-22T00:00:00Z/,
    );
  });

  it('answers in the format the format parameter names, whatever Accept asks for; Accept decides only without it', async () => {
    const range = `from=${iso(servedHourMs)}&to=${iso(servedHourMs + HOUR_MS)}&groupBy=seat`;
    const json = await withAccept(`${range}&format=json`, 'text/csv');
    assert.match(json.type, /^application\/json/);
    assert.equal(JSON.parse(json.text).rows[0].seat, 's1');
    const csv = await withAccept(`${range}&format=csv`, 'application/json');
    assert.match(csv.type, /^text\/csv/);
    assert.match(csv.text, /^seat,events,/);
    assert.match((await withAccept(range, 'text/csv')).type, /^text\/csv/);
    const bannerFilter = await withAccept(`${range}&format=banner`, 'text/csv');
    assert.match(bannerFilter.type, /^text\/csv/, 'format=banner filters the ad format');
    assert.match(bannerFilter.text, /\r\ns1,1,/);
  });
});

describe('report size', () => {
  it('refuses a report of more rows than TALLY_REPORT_MAX_ROWS, saying how to narrow it, and answers a narrower one', async () => {
    const small = await startServer({ TALLY_REPORT_MAX_ROWS: '2' });
    try {
      const wins = ['s1', 's2', 's3'].map((seat, index) => ({
        request: { id: `size-${index}`, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
        seat,
        bid: { id: 'b1', impid: '1', price: 1, adm: '<div>ad</div>' },
      }));
      const registered = await api(small, small.adminKey, 'POST', '/v1/wins', { wins });
      for (const result of registered.body.results) {
        const notice = await fetch(result.noticeUrls[result.method], { headers: { 'user-agent': CHROME } });
        assert.equal(notice.status, 200);
      }
      const hourMs = hourStartMs(Date.now());
      const range = `from=${iso(hourMs - HOUR_MS)}&to=${iso(hourMs + HOUR_MS)}`;
      const bySeat = await api(small, small.adminKey, 'GET', `/v1/reports?${range}&groupBy=seat`);
      assert.equal(bySeat.status, 400);
      assert.equal(bySeat.body.error.code, 'REPORT_TOO_LARGE');
      assert.match(
        bySeat.body.error.message,
        /more than 2 rows: narrow from and to, group by fewer dimensions/,
      );
      const filtered = await api(small, small.adminKey, 'GET', `/v1/reports?${range}&groupBy=seat&seat=s2`);
      assert.deepEqual(
        filtered.body.rows.map((row: any) => [row.seat, row.events]),
        [['s2', 1]],
      );
    } finally {
      await small.dispose();
    }
  });

  it('refuses with MIXED_CURRENCIES a report that would add up USD and EUR in one row, and answers it by currency', async () => {
    const billing = await startServer();
    try {
      const wins = ['USD', 'EUR'].map((currency, index) => ({
        request: { id: `currency-${index}`, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
        seat: 's1',
        bid: { id: 'b1', impid: '1', price: 2, adm: '<div>ad</div>' },
        currency,
      }));
      const registered = await api(billing, billing.adminKey, 'POST', '/v1/wins', { wins });
      for (const result of registered.body.results) {
        const notice = await fetch(result.noticeUrls[result.method], { headers: { 'user-agent': CHROME } });
        assert.equal(notice.status, 200);
      }
      const hourMs = hourStartMs(Date.now());
      const range = `from=${iso(hourMs - HOUR_MS)}&to=${iso(hourMs + HOUR_MS)}`;
      const bySeat = await api(billing, billing.adminKey, 'GET', `/v1/reports?${range}&groupBy=seat`);
      assert.equal(bySeat.status, 400, JSON.stringify(bySeat.body));
      assert.equal(bySeat.body.error.code, 'MIXED_CURRENCIES');
      assert.equal(bySeat.body.error.requestId, bySeat.headers.get('x-request-id'));
      assert.match(bySeat.body.error.message, /amounts are in EUR, USD: group by currency/);
      const byCurrency = await api(
        billing,
        billing.adminKey,
        'GET',
        `/v1/reports?${range}&groupBy=seat,currency`,
      );
      assert.deepEqual(
        byCurrency.body.rows.map((row: any) => [row.currency, row.events, row.priceMicros]),
        [
          ['EUR', 1, 2_000_000],
          ['USD', 1, 2_000_000],
        ],
      );
      const inEuros = await api(
        billing,
        billing.adminKey,
        'GET',
        `/v1/reports?${range}&groupBy=seat&currency=EUR`,
      );
      assert.deepEqual(
        inEuros.body.rows.map((row: any) => [row.seat, row.priceMicros]),
        [['s1', 2_000_000]],
      );
    } finally {
      await billing.dispose();
    }
  });
});

describe('report money by key', () => {
  it('answers a publisher-scoped key its exchange impressions without the clearing prices, in JSON and CSV, never refused for them, and the account-wide key with them', async () => {
    const exchange = await startServer();
    try {
      const scopedKey = await publisherReaderKey(exchange, 'News', 'pub-news');
      // Its impressions cleared at 2.00 USD and 3.00 EUR; another publisher's at 4.00 USD.
      const wins = [
        ['pub-news', 2, 'USD'],
        ['pub-news', 3, 'EUR'],
        ['pub-other', 4, 'USD'],
      ].map(([publisherId, price, currency], index) => ({
        request: {
          id: `money-${index}`,
          imp: [{ id: '1', banner: { w: 300, h: 250 } }],
          site: { publisher: { id: publisherId } },
        },
        seat: 's1',
        bid: { id: 'b1', impid: '1', price, adm: '<div>ad</div>' },
        currency,
      }));
      const registered = await api(exchange, exchange.adminKey, 'POST', '/v1/wins', { wins });
      for (const result of registered.body.results) {
        assert.equal(result.ok, true, JSON.stringify(result));
        const notice = await fetch(result.noticeUrls[result.method], { headers: { 'user-agent': CHROME } });
        assert.equal(notice.status, 200);
      }
      const hourMs = hourStartMs(Date.now());
      const range = `from=${iso(hourMs - HOUR_MS)}&to=${iso(hourMs + 2 * HOUR_MS)}`;
      // Its USD and EUR impressions in one row: no amount it is shown is in either currency.
      const own = await api(exchange, scopedKey, 'GET', `/v1/reports?${range}&groupBy=publisher`);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.deepEqual(own.body.rows, [{ publisher: 'pub-news', events: 2, mediaCostMicros: 0 }]);
      const csv = await fetch(`${exchange.url}/v1/reports?${range}&groupBy=publisher,currency&format=csv`, {
        headers: { authorization: `Bearer ${scopedKey}` },
      });
      assert.equal(csv.status, 200);
      assert.equal(
        await csv.text(),
        'publisher,currency,events,mediaCostMicros\r\npub-news,EUR,1,0\r\npub-news,USD,1,0\r\n',
      );
      // The account-wide key sees the prices, and so is refused their sum across currencies.
      const mixed = await api(exchange, exchange.adminKey, 'GET', `/v1/reports?${range}&groupBy=publisher`);
      assert.deepEqual([mixed.status, mixed.body.error?.code], [400, 'MIXED_CURRENCIES']);
      const byCurrency = await api(
        exchange,
        exchange.adminKey,
        'GET',
        `/v1/reports?${range}&groupBy=publisher,currency`,
      );
      assert.deepEqual(
        byCurrency.body.rows.map((row: any) => [row.publisher, row.currency, row.events, row.priceMicros]),
        [
          ['pub-news', 'EUR', 1, 3_000_000],
          ['pub-news', 'USD', 1, 2_000_000],
          ['pub-other', 'USD', 1, 4_000_000],
        ],
      );
    } finally {
      await exchange.dispose();
    }
  });
});

// Last in the file: its impression is served hours before the one the tests above count.
describe('report hours', () => {
  it('reports an impression under the UTC hour of its auction, not the hour its notice arrived', async () => {
    const auctionTimeMs = Date.now() - 2.5 * HOUR_MS;
    const win = {
      request: { id: 'auction-earlier', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
      seat: 's-earlier',
      bid: { id: 'b1', impid: '1', price: 2, adm: '<div>ad</div>' },
      // Fired by the publisher, e.g. server-side: a 3 h TTL, so a notice now still counts.
      publisherBurl: true,
      auctionTimeMs,
    };
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
    const [result] = registered.body.results;
    assert.equal(result.ok, true, JSON.stringify(result));
    const notice = await fetch(result.burl, { headers: { 'user-agent': CHROME }, redirect: 'manual' });
    assert.equal(notice.status, 200);
    const noticeHourMs = hourStartMs(Date.now());
    const window = `from=${iso(noticeHourMs - 4 * HOUR_MS)}&to=${iso(noticeHourMs + HOUR_MS)}`;
    const rows = (await report(`${window}&groupBy=hour,outcome&seat=s-earlier`)).body.rows;
    assert.deepEqual(
      rows.map((row: any) => [row.hour, row.outcome, row.events, row.priceMicros]),
      [[iso(hourStartMs(auctionTimeMs)), 'counted', 1, 2_000_000]],
    );
    const day = iso(hourStartMs(auctionTimeMs) - (hourStartMs(auctionTimeMs) % (24 * HOUR_MS)));
    assert.deepEqual(
      (await report(`${window}&groupBy=day&seat=s-earlier`)).body.rows.map((row: any) => [
        row.day,
        row.events,
      ]),
      [[day, 1]],
    );
  });
});
