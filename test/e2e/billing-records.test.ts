import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, serveOnFreePort, startServer } from '../support/server.js';
import type { ServeProcess, TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';
import { publisherReaderKey } from '../support/publisher-reader.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/** Billing records over real HTTP: one per counted impression, what a DSP reconciles against. */

const BOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)';

let tally: TestServer;
const iso = (ms: number) => new Date(ms).toISOString();

/** The auction time each win of `register` was sent with, by auction id. */
const auctionTimesMs = new Map<string, number>();

/** Registers a banner win of `seat` at `clearingPrice`, auctioned now, and answers its `adm` notice URL. */
async function register(auctionId: string, seat: string, clearingPrice: number): Promise<string> {
  const auctionTimeMs = Date.now();
  auctionTimesMs.set(auctionId, auctionTimeMs);
  const win = {
    request: {
      id: auctionId,
      imp: [{ id: 'imp-1', banner: { w: 300, h: 250 } }],
      site: { publisher: { id: 'pub-9' } },
    },
    seat,
    bid: { id: `bid-${auctionId}`, impid: 'imp-1', price: clearingPrice + 1, adm: '<div>ad</div>' },
    clearingPrice,
    auctionTimeMs,
  };
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
  const [result] = registered.body.results;
  assert.equal(result.ok, true, JSON.stringify(result));
  return result.noticeUrls.adm;
}

async function fire(url: string, userAgent = CHROME): Promise<void> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent } });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
}

/** Every record the key reads with `query`, following `next`, and the pages it took. */
async function readAll(key: string, query: string): Promise<{ records: any[]; pages: number }> {
  const records: any[] = [];
  let after = '';
  for (let pages = 1; ; pages++) {
    const page = await api(tally, key, 'GET', `/v1/billing-records?${query}${after}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    records.push(...page.body.records);
    if (page.body.next === null) return { records, pages };
    after = `&after=${page.body.next}`;
  }
}

before(async () => {
  tally = await startServer();
  const first = await register('auction-1', 'seat-a', 1.25);
  await fire(first);
  await fire(first); // a duplicate: billed once
  await fire(await register('auction-2', 'seat-b', 2));
  await fire(await register('auction-3', 'seat-a', 3), BOT); // invalid traffic: not billed
  await fire(await register('auction-4', 'seat-a', 0.5));
});

after(async () => {
  await tally?.dispose();
});

describe('GET /v1/billing-records', () => {
  it('lists one record per counted impression, with the ids and clearing price the DSP was billed, and nothing that did not count', async () => {
    const { records } = await readAll(tally.adminKey, '');
    assert.deepEqual(
      records.map((record) => [
        record.auctionId,
        record.impId,
        record.bidId,
        record.seat,
        record.priceMicros,
      ]),
      [
        ['auction-1', 'imp-1', 'bid-auction-1', 'seat-a', 1_250_000],
        ['auction-2', 'imp-1', 'bid-auction-2', 'seat-b', 2_000_000],
        ['auction-4', 'imp-1', 'bid-auction-4', 'seat-a', 500_000],
      ],
    );
    for (const record of records) {
      assert.equal(record.impressionType, 'exchange');
      assert.equal(record.publisher, 'pub-9');
      assert.equal(record.currency, 'USD');
      assert.equal(record.method, 'adm');
      // The auction's hour, not the count's: the notice may come in the next hour.
      assert.equal(record.servedHour, iso(hourStartMs(auctionTimesMs.get(record.auctionId) ?? 0)));
      assert.equal(record.trackerId, null);
    }
  });

  it('adds up, seat by seat, to the counted impressions the report bills', async () => {
    const hourMs = hourStartMs(Date.now());
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?from=${iso(hourMs - HOUR_MS)}&to=${iso(hourMs + 2 * HOUR_MS)}&groupBy=seat&outcome=counted`,
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    const { records } = await readAll(tally.adminKey, '');
    const bySeat = new Map<string, { events: number; priceMicros: number }>();
    for (const record of records) {
      const sums = bySeat.get(record.seat) ?? { events: 0, priceMicros: 0 };
      bySeat.set(record.seat, {
        events: sums.events + 1,
        priceMicros: sums.priceMicros + record.priceMicros,
      });
    }
    assert.deepEqual(
      report.body.rows.map((row: any) => [row.seat, row.events, row.priceMicros]),
      [...bySeat].map(([seat, sums]) => [seat, sums.events, sums.priceMicros]),
    );
  });

  it('pages by next, filters on the seat and on a window of count times', async () => {
    const paged = await readAll(tally.adminKey, 'limit=1');
    assert.deepEqual(
      paged.records.map((record) => record.auctionId),
      ['auction-1', 'auction-2', 'auction-4'],
    );
    assert.equal(paged.pages, 3);
    const seatA = await readAll(tally.adminKey, 'seat=seat-a');
    assert.deepEqual(
      seatA.records.map((record) => record.auctionId),
      ['auction-1', 'auction-4'],
    );
    const later = await readAll(tally.adminKey, `from=${iso(Date.now() + HOUR_MS)}`);
    assert.deepEqual(later.records, []);
    const until = Date.parse(seatA.records[1].countedAt);
    const before = await readAll(tally.adminKey, `from=${iso(until - HOUR_MS)}&to=${iso(until)}`);
    assert.deepEqual(
      before.records.filter((record) => record.auctionId === 'auction-4'),
      [],
      'a window ending before auction-4 was counted leaves it out',
    );
  });

  it('answers a page in CSV, columns in the order of the JSON fields and null as an empty cell, the next page in its Link header', async () => {
    const asJson = await api(tally, tally.adminKey, 'GET', '/v1/billing-records?limit=2');
    const fetchCsv = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${tally.url}/v1/billing-records?${query}`, {
        headers: { authorization: `Bearer ${tally.adminKey}`, ...headers },
      });
    const csv = await fetchCsv('limit=2&format=csv');
    assert.equal(csv.status, 200);
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    const [header, ...lines] = (await csv.text()).split('\r\n');
    assert.deepEqual(header?.split(','), Object.keys(asJson.body.records[0]));
    assert.deepEqual(lines.at(-1), '');
    assert.deepEqual(
      lines.slice(0, -1),
      asJson.body.records.map((record: Record<string, string | number | null>) =>
        Object.values(record)
          .map((value) => (value === null ? '' : String(value)))
          .join(','),
      ),
    );
    const [first, last] = asJson.body.records;
    assert.equal(
      csv.headers.get('content-disposition'),
      `attachment; filename="tally-billing-records-${first.id}-${last.id}.csv"`,
    );
    const link = /^<(\/v1\/billing-records\?[^>]+)>; rel="next"$/.exec(csv.headers.get('link') ?? '');
    assert.ok(link, `Link: ${csv.headers.get('link')}`);
    assert.equal(
      asJson.headers.get('link'),
      `</v1/billing-records?limit=2&after=${asJson.body.next}>; rel="next"`,
    );
    const nextPage = await fetchCsv((link[1] ?? '').split('?')[1] ?? '', { accept: 'text/csv' });
    const nextLines = (await nextPage.text()).split('\r\n');
    assert.equal(nextLines.length, 3, 'the header, the last record, the end of the last line');
    assert.match(nextLines[1] ?? '', /,auction-4,/);
    assert.equal(nextPage.headers.get('link'), null);
  });

  it('lets an account-wide reader key read them, refuses an advertiser’s or a publisher’s scoped key (they hold the clearing prices), and refuses a bad parameter saying what to send', async () => {
    const created = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
      name: 'finance',
      role: 'reader',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await readAll(created.body.key, '')).records.length, 3);

    const advertiser = await api(tally, tally.adminKey, 'POST', '/v1/advertisers', { name: 'Acme' });
    const scoped = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
      name: 'acme',
      role: 'reader',
      scope: { type: 'advertiser', id: advertiser.body.id },
    });
    const publisherKey = await publisherReaderKey(tally, 'Billing publisher', 'pub-billing');
    for (const key of [scoped.body.key as string, publisherKey]) {
      const refused = await api(tally, key, 'GET', '/v1/billing-records');
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'FORBIDDEN');
    }

    for (const [query, message] of [
      ['limit=0', /limit must be an integer from 1 to 1000/],
      ['after=x', /after: send the `next` value/],
      [
        'impressionType=click',
        /^impressionType must be one of exchange, external_impression, external_click, not "click"$/,
      ],
      ['seat=', /^seat is empty: give a seat id \(SeatBid\.seat\), or leave seat out to take every one$/],
      [
        'auctionId=',
        /^auctionId is empty: give an auction id \(BidRequest\.id\), or leave auctionId out to take every one$/,
      ],
      ['from=yesterday', /from/],
      ['sort=id', /unknown parameter "sort"/],
      ['format=banner', /^format must be csv or json, not "banner"$/],
      ['publisherId=pub-9', /^publisherId="pub-9": must be a numeric id of at most 2\^53 - 1 \(0: none\)$/],
      ['publisherId=99999999999999999999', /^publisherId="99999999999999999999": must be a numeric id/],
      ['servedFrom=2026-12-01T10:30:00Z', /^servedFrom must be on the hour in UTC /],
      ['servedFrom=2026-12-02&servedTo=2026-12-01', /servedFrom must be before servedTo/],
      ['tz=Mars/Olympus', /tz="Mars\/Olympus": no such time zone/],
    ] as const) {
      const bad = await api(tally, tally.adminKey, 'GET', `/v1/billing-records?${query}`);
      assert.equal(bad.status, 400, query);
      assert.equal(bad.body.error.code, 'VALIDATION_FAILED', query);
      assert.match(bad.body.error.message, message, query);
      assert.equal(typeof bad.body.error.requestId, 'string');
    }
  });

  it('warns of a publisherId naming no publisher of the account, as a report does, in JSON and in its X-Tally-Warnings header', async () => {
    const unknown = await api(tally, tally.adminKey, 'GET', '/v1/billing-records?publisherId=999999');
    assert.equal(unknown.status, 200, JSON.stringify(unknown.body));
    assert.deepEqual(unknown.body.records, []);
    assert.deepEqual(
      unknown.body.warnings.map((warning: { code: string; id: number }) => [warning.code, warning.id]),
      [['unknown_publisher', 999999]],
    );
    assert.equal(unknown.headers.get('x-tally-warnings'), 'unknown_publisher;id=999999');
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?from=${iso(hourStartMs(Date.now()))}&to=${iso(hourStartMs(Date.now()) + HOUR_MS)}&publisherId=999999`,
    );
    assert.deepEqual(report.body.warnings, unknown.body.warnings);
    for (const query of ['publisherId=0', '']) {
      const none = await api(tally, tally.adminKey, 'GET', `/v1/billing-records?${query}`);
      assert.deepEqual([none.body.warnings, none.headers.get('x-tally-warnings')], [[], null], query);
    }
  });

  it('refuses a served bound off the hour suggesting the hour that keeps the time sent inside the window (servedTo the next), as sent, naming a time zone only where tz gave one', async () => {
    const onTheHour = (name: string, example: string, inUtc: boolean) =>
      `${name} must be on the hour${inUtc ? ' in UTC' : ''} (the time it names, its offset applied, has minutes and seconds zero), e.g. ${example}: records are by the UTC hour the impression was served, as reports are`;
    for (const [query, message] of [
      ['servedFrom=2026-12-06T13:30:00Z', onTheHour('servedFrom', '2026-12-06T13:00:00Z', true)],
      ['servedTo=2026-12-06T13:00:01Z', onTheHour('servedTo', '2026-12-06T14:00:00Z', true)],
      // 13:00 at +05:30 is 07:30 UTC.
      ['servedFrom=2026-12-06T13:00:00%2B05:30', onTheHour('servedFrom', '2026-12-06T07:00:00Z', true)],
      [
        'servedTo=2026-12-06T08:30:00-05:00&tz=America/New_York',
        onTheHour('servedTo', '2026-12-06T09:00:00-05:00', false),
      ],
      [
        'servedFrom=2026-12-06&tz=Asia/Kolkata',
        'servedFrom=2026-12-06 is 00:00 in Asia/Kolkata, 2026-12-05T18:30:00Z, on no UTC hour: tz=Asia/Kolkata is +05:30 from UTC then, not a whole number of hours, and records are by the UTC hour the impression was served, as reports are; give servedFrom as a date-time on the hour, e.g. 2026-12-05T18:00:00Z',
      ],
    ] as const) {
      const refused = await api(tally, tally.adminKey, 'GET', `/v1/billing-records?${query}`);
      assert.deepEqual(
        [refused.status, refused.body.error?.code, refused.body.error?.message],
        [400, 'VALIDATION_FAILED', message],
        query,
      );
    }
  });

  it('lists the records of the impressions served in a window, in a time zone, as the report over it adds them up', async () => {
    // Burls the publisher fires (3 h TTL), of auctions an hour apart: each in its own served hour.
    const nowMs = Date.now();
    const auctions = [150, 90, 30].map((minutesAgo, index) => ({
      auctionId: `served-${index}`,
      auctionTimeMs: nowMs - minutesAgo * 60_000,
    }));
    for (const { auctionId, auctionTimeMs } of auctions) {
      const win = {
        request: { id: auctionId, imp: [{ id: 'imp-1', banner: { w: 300, h: 250 } }], site: {} },
        seat: 'seat-served',
        bid: { id: 'b', impid: 'imp-1', price: 1, adm: '<div>ad</div>' },
        auctionTimeMs,
        publisherBurl: true,
      };
      const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
      const [result] = registered.body.results;
      assert.equal(result.ok, true, JSON.stringify(result));
      await fire(result.burl, 'okhttp/4.12.0');
    }
    const middleHourMs = hourStartMs(auctions[1]?.auctionTimeMs ?? 0);
    const window = `servedFrom=${iso(middleHourMs)}&servedTo=${iso(middleHourMs + HOUR_MS)}`;
    const inWindow = await readAll(tally.adminKey, `${window}&seat=seat-served&tz=America/New_York`);
    assert.deepEqual(
      inWindow.records.map((record) => record.auctionId),
      auctions
        .filter(({ auctionTimeMs }) => hourStartMs(auctionTimeMs) === middleHourMs)
        .map(({ auctionId }) => auctionId),
    );
    for (const record of inWindow.records) {
      // New York's offset at that hour: -05:00 in winter, -04:00 in summer.
      const offset = new Intl.DateTimeFormat('en-US', {
        timeZone: 'America/New_York',
        timeZoneName: 'longOffset',
      })
        .format(middleHourMs)
        .slice(-6);
      assert.ok(record.servedHour.endsWith(`:00:00.000${offset}`), `${record.servedHour} in ${offset}`);
      assert.equal(Date.parse(record.servedHour), middleHourMs);
    }
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?from=${iso(middleHourMs)}&to=${iso(middleHourMs + HOUR_MS)}&seat=seat-served&outcome=counted&groupBy=seat`,
    );
    assert.deepEqual(
      report.body.rows.map((row: { events: number }) => row.events),
      [inWindow.records.length],
    );
  });

  it('tells, record by record, where the DSP burl delivery of the impression stands', async () => {
    const win = {
      request: { id: 'burl-1', imp: [{ id: 'imp-1', banner: { w: 300, h: 250 } }], site: {} },
      seat: 'seat-burl',
      // A DSP that never answers (the discard port): the delivery stays pending, retried.
      bid: {
        id: 'b',
        impid: 'imp-1',
        price: 1,
        adm: '<div>ad</div>',
        burl: 'http://127.0.0.1:9/win?p=${AUCTION_PRICE}',
      },
    };
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
    const [result] = registered.body.results;
    assert.equal(result.ok, true, JSON.stringify(result));
    await fire(result.noticeUrls.adm);
    const { records } = await readAll(tally.adminKey, 'seat=seat-burl');
    assert.deepEqual(
      records.map((record) => [record.auctionId, record.deliveryStatus]),
      [['burl-1', 'pending']],
    );
    const { records: withoutBurl } = await readAll(tally.adminKey, 'seat=seat-a');
    assert.deepEqual(
      withoutBurl.map((record) => record.deliveryStatus),
      [null, null],
    );
  });

  it('filters on the auction: its impressions’ records alone, page by page in JSON and in CSV, with the other filters', async () => {
    // One auction, two impressions won by two seats.
    const request = {
      id: 'two-imps',
      imp: [
        { id: 'imp-1', banner: { w: 300, h: 250 } },
        { id: 'imp-2', banner: { w: 728, h: 90 } },
      ],
      site: {},
    };
    const wins = ['imp-1', 'imp-2'].map((impid, index) => ({
      request,
      seat: `seat-two-${index}`,
      bid: { id: `b-${impid}`, impid, price: 2, adm: '<div>ad</div>' },
      clearingPrice: 1.5,
    }));
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
    for (const result of registered.body.results) {
      assert.equal(result.ok, true, JSON.stringify(result));
      await fire(result.noticeUrls.adm);
    }
    const imps = (records: any[]) =>
      records.map((record) => `${record.auctionId} ${record.impId} ${record.seat}`);
    const both = ['two-imps imp-1 seat-two-0', 'two-imps imp-2 seat-two-1'];
    assert.deepEqual(imps((await readAll(tally.adminKey, 'auctionId=two-imps')).records), both);
    const paged = await readAll(tally.adminKey, 'auctionId=two-imps&limit=1');
    assert.deepEqual([imps(paged.records), paged.pages], [both, 2]);
    assert.deepEqual(imps((await readAll(tally.adminKey, 'auctionId=two-imps&seat=seat-two-1')).records), [
      both[1],
    ]);
    assert.deepEqual((await readAll(tally.adminKey, 'auctionId=two-imps&seat=seat-a')).records, []);
    assert.deepEqual(imps((await readAll(tally.adminKey, 'auctionId=auction-1')).records), [
      'auction-1 imp-1 seat-a',
    ]);
    assert.deepEqual(
      (await readAll(tally.adminKey, 'auctionId=auction-3')).records,
      [],
      'its impression did not count: no record',
    );
    // In CSV, the next page's URL keeps the filter.
    const csvPage = async (query: string) => {
      const response = await fetch(`${tally.url}/v1/billing-records?${query}`, {
        headers: { authorization: `Bearer ${tally.adminKey}` },
      });
      assert.equal(response.status, 200);
      const lines = (await response.text()).split('\r\n').slice(1, -1);
      const link = /^<\/v1\/billing-records\?([^>]+)>; rel="next"$/.exec(response.headers.get('link') ?? '');
      return { lines, next: link?.[1] };
    };
    const first = await csvPage('auctionId=two-imps&limit=1&format=csv');
    assert.equal(first.lines.length, 1);
    assert.match(first.lines[0] ?? '', /,two-imps,imp-1,b-imp-1,seat-two-0,/);
    assert.match(first.next ?? '', /^auctionId=two-imps&limit=1&format=csv&after=\d+$/);
    const second = await csvPage(first.next ?? '');
    assert.equal(second.lines.length, 1);
    assert.match(second.lines[0] ?? '', /,two-imps,imp-2,b-imp-2,seat-two-1,/);
    assert.equal(second.next, undefined, 'the last page: no Link');
  });

  it('writes in CSV, after a leading escape, the ids a spreadsheet would read as other numbers (19 digits, leading zeros, an exponent), so that they still match the DSP’s', async () => {
    const auctionId = '7431235367391739290';
    const win = {
      request: {
        id: auctionId,
        imp: [{ id: '01', banner: { w: 300, h: 250 } }],
        site: { publisher: { id: '000123' } },
      },
      seat: '0042',
      bid: { id: '1E5', impid: '01', price: 2, adm: '<div>ad</div>' },
    };
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
    const [result] = registered.body.results;
    assert.equal(result.ok, true, JSON.stringify(result));
    await fire(result.noticeUrls.adm);
    const { records } = await readAll(tally.adminKey, `auctionId=${auctionId}`);
    assert.deepEqual(
      records.map((record) => [record.auctionId, record.impId, record.bidId, record.seat, record.publisher]),
      [[auctionId, '01', '1E5', '0042', '000123']],
      'JSON gives the ids as they are',
    );
    const csv = await fetch(`${tally.url}/v1/billing-records?auctionId=${auctionId}&format=csv`, {
      headers: { authorization: `Bearer ${tally.adminKey}` },
    });
    const [, line] = (await csv.text()).split('\r\n');
    assert.match(line ?? '', /,'7431235367391739290,'01,'1E5,'0042,'000123,USD,2000000,/);
    const hour = hourStartMs(Date.now());
    const report = await fetch(
      `${tally.url}/v1/reports?from=${iso(hour - HOUR_MS)}&to=${iso(hour + HOUR_MS)}&seat=0042&groupBy=seat,publisher&format=csv`,
      { headers: { authorization: `Bearer ${tally.adminKey}` } },
    );
    assert.equal(
      (await report.text()).split('\r\n')[1],
      "'0042,'000123,1,2000000,0,0,0",
      'a report writes them so too',
    );
  });

  it('writes in CSV, after a leading escape, the ids a spreadsheet would run as formulas, and a page of no records as its header line alone', async () => {
    const auctionId = '=HYPERLINK("http://evil.example","x")';
    const win = {
      request: {
        id: auctionId,
        imp: [{ id: '+1', banner: { w: 300, h: 250 } }],
        site: { publisher: { id: '\t=1+1' } },
      },
      seat: '-1',
      bid: { id: '@SUM(A1)', impid: '+1', price: 2, adm: '<div>ad</div>' },
    };
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
    const [result] = registered.body.results;
    assert.equal(result.ok, true, JSON.stringify(result));
    await fire(result.noticeUrls.adm);
    const query = `auctionId=${encodeURIComponent(auctionId)}`;
    const { records } = await readAll(tally.adminKey, query);
    assert.deepEqual(
      records.map((record) => [record.auctionId, record.impId, record.bidId, record.seat, record.publisher]),
      [[auctionId, '+1', '@SUM(A1)', '-1', '\t=1+1']],
      'JSON gives the ids as they are',
    );
    const csvOf = (csvQuery: string) =>
      fetch(`${tally.url}/v1/billing-records?${csvQuery}&format=csv`, {
        headers: { authorization: `Bearer ${tally.adminKey}` },
      });
    const [header, line, end] = (await (await csvOf(query)).text()).split('\r\n');
    assert.match(
      line ?? '',
      /,"'=HYPERLINK\(""http:\/\/evil\.example"",""x""\)",'\+1,'@SUM\(A1\),'-1,"'\t=1\+1",USD,2000000,/,
    );
    assert.equal(end, '', 'the last line ends in CRLF');
    const none = await csvOf('auctionId=no-such-auction');
    assert.equal(
      none.headers.get('content-disposition'),
      'attachment; filename="tally-billing-records-none.csv"',
    );
    assert.equal(await none.text(), `${header}\r\n`);
  });
});

describe('billing records of a window served under rules since shortened', () => {
  // Last of the shared server's: it adds a record the tests before it would list.
  it('answers publisher null, an empty CSV cell, for an impression whose request named no publisher.id', async () => {
    const win = {
      request: { id: 'no-publisher', imp: [{ id: 'imp-1', banner: { w: 300, h: 250 } }], site: {} },
      seat: 'seat-c',
      bid: { id: 'bid-no-publisher', impid: 'imp-1', price: 1, adm: '<div>ad</div>' },
    };
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
    await fire(registered.body.results[0].noticeUrls.adm);
    const { records } = await readAll(tally.adminKey, 'auctionId=no-publisher');
    assert.equal(records.length, 1);
    assert.equal(records[0].publisher, null);
    const csv = await fetch(`${tally.url}/v1/billing-records?auctionId=no-publisher&format=csv`, {
      headers: { authorization: `Bearer ${tally.adminKey}` },
    });
    const [header, line] = (await csv.text()).split('\r\n');
    const column = header?.split(',').indexOf('publisher') ?? -1;
    assert.ok(column > 0, `the CSV header has a publisher column past the first: ${header}`);
    assert.equal(line?.split(',')[column], '');
  });

  it('picks with publisher= empty the records of impressions that named no publisher.id, as a report’s publisher= picks their rows', async () => {
    const { records } = await readAll(tally.adminKey, 'publisher=');
    assert.deepEqual(
      [...new Set(records.map((record) => record.publisher))],
      [null],
      'each record picked names no publisher',
    );
    assert.equal(records.filter((record) => record.auctionId === 'no-publisher').length, 1);
    const servedMs = records.map((record) => Date.parse(record.servedHour));
    const window = `from=${iso(Math.min(...servedMs))}&to=${iso(Math.max(...servedMs) + HOUR_MS)}`;
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?${window}&publisher=&outcome=counted`,
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(
      report.body.rows.map((row: { events: number }) => row.events),
      [records.length],
    );
  });

  it('still lists an impression that counts by the longer TTL its win was registered with, after a restart on shorter rules', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-ttl-ceiling-'));
    const adminKey = 'ttl-ceiling-admin-key-0123';
    const start = async (env: Record<string, string>) => {
      const { serve, url } = await serveOnFreePort(dataDir, { TALLY_ADMIN_KEY: adminKey, ...env });
      return { serve, server: { url } };
    };
    const stop = async ({ serve }: { serve: ServeProcess }) => {
      const exited = new Promise((resolve) => serve.child.once('exit', resolve));
      serve.child.kill('SIGTERM');
      await exited;
    };
    try {
      // Six hours for a web banner's own notice, where the default is ten minutes.
      const longer = await start({
        TALLY_RULES: JSON.stringify({
          '*': [{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 21_600 }],
        }),
      });
      const auctionTimeMs = Date.now() - 4 * HOUR_MS;
      let noticeUrl: string;
      try {
        const registered = await api(longer.server, adminKey, 'POST', '/v1/wins', {
          wins: [
            {
              request: { id: 'long-ttl', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
              seat: 'seat-long',
              bid: { id: 'b', impid: '1', price: 1, adm: '<div>ad</div>' },
              auctionTimeMs,
            },
          ],
        });
        noticeUrl = registered.body.results[0].noticeUrls.adm;
      } finally {
        await stop(longer);
      }
      const shorter = await start({});
      try {
        const notice = await fetch(noticeUrl.replace(/^http:\/\/127\.0\.0\.1:\d+/, shorter.server.url), {
          headers: { 'user-agent': CHROME },
        });
        assert.equal(notice.status, 200);
        await notice.arrayBuffer();
        const servedHourMs = hourStartMs(auctionTimeMs);
        const window = `servedFrom=${iso(servedHourMs)}&servedTo=${iso(servedHourMs + HOUR_MS)}`;
        const report = await api(
          shorter.server,
          adminKey,
          'GET',
          `/v1/reports?from=${iso(servedHourMs)}&to=${iso(servedHourMs + HOUR_MS)}&outcome=counted`,
        );
        assert.equal(report.body.rows[0]?.events, 1, JSON.stringify(report.body));
        const records = await api(shorter.server, adminKey, 'GET', `/v1/billing-records?${window}`);
        assert.deepEqual(
          records.body.records.map((record: { auctionId: string }) => record.auctionId),
          ['long-ttl'],
        );
      } finally {
        await stop(shorter);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
