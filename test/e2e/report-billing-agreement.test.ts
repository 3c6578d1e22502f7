import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { everyBillingRecord } from '../support/billing-pages.js';
import { CHROME } from '../support/user-agents.js';
import { DAY_MS, HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * Reports (hourly rollups) against billing records (the ledger's rows) over real HTTP, for many
 * windows in UTC and in time zones: the counted events and `priceMicros` a report adds up over a
 * window and filter are those of the billing records served in it, and those of the notices the
 * test fired and knows should count. The wins are spread over the past six days (a web banner's
 * TTL raised to seven), fired once, twice or not at all, some by a bot first, some past the TTL,
 * beside invalid tokens and tracker hits priced by a payment rule or by `ancost`.
 */

const BOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)';
const SEATS = ['s1', 's2', 's3'];
const PUBLISHERS = ['pub-a', 'pub-b'];
const CURRENCIES = ['USD', 'EUR'];
const TTL_SECONDS = 7 * 24 * 3600;

let tally: TestServer;
/** What should have counted: one entry per counted exchange impression. */
const counted: {
  servedHourMs: number;
  seat: string;
  publisher: string;
  currency: string;
  priceMicros: number;
}[] = [];
/** Counted tracker hits, each with its hour. */
let trackerHits: { servedHourMs: number }[] = [];
let publisherKey: string;
/** The catalog publisher whose externalId is `pub-a`, which the tracker is on. */
let publisherId: number;
let advertiserKey: string;
let advertiserId: number;
let nowHourMs: number;

/** A small seeded generator, so that a failing run repeats. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = generator(20261205);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const iso = (ms: number) => new Date(ms).toISOString();

async function fire(url: string, userAgent = CHROME): Promise<number> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent } });
  await response.arrayBuffer();
  return response.status;
}

async function create(path: string, body: object): Promise<number> {
  const response = await api(tally, tally.adminKey, 'POST', path, body);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.id as number;
}

before(async () => {
  tally = await startServer({
    TALLY_RULES: JSON.stringify({
      '*': [{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: TTL_SECONDS }],
    }),
  });
  const nowMs = Date.now();
  nowHourMs = hourStartMs(nowMs);
  const wins = [];
  for (let index = 0; index < 160; index++) {
    // Over the past six days, a few past the TTL, one up to four minutes ahead of the clock.
    const ageMs =
      index % 40 === 0 ? TTL_SECONDS * 1000 + HOUR_MS * (1 + random() * 20) : random() * 6 * DAY_MS;
    const auctionTimeMs = Math.round(index === 1 ? nowMs + 4 * 60_000 : nowMs - ageMs);
    const currency = pick(CURRENCIES);
    wins.push({
      request: {
        id: `auction-${index}`,
        imp: [{ id: '1', banner: { w: 300, h: 250 } }],
        site: { publisher: { id: pick(PUBLISHERS) } },
        cur: CURRENCIES,
      },
      seat: pick(SEATS),
      bid: { id: `bid-${index}`, impid: '1', price: 100, adm: '<div>ad</div>' },
      clearingPrice: Math.round(random() * 20_000_000) / 1_000_000,
      currency,
      auctionTimeMs,
    });
  }
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  for (const [index, result] of (registered.body.results as any[]).entries()) {
    assert.equal(result.ok, true, JSON.stringify(result));
    const win = wins[index] as (typeof wins)[number];
    const url = result.noticeUrls.adm as string;
    const late = Date.now() - win.auctionTimeMs > TTL_SECONDS * 1000;
    // 0: never fired; 1: once; 2: twice; 3: a bot, then a browser; 4: a forged token alone.
    const plan = Math.floor(random() * 5);
    let countable = false;
    if (plan === 1 || plan === 2) {
      for (let time = 0; time < plan; time++) assert.equal(await fire(url), 200);
      countable = true;
    } else if (plan === 3) {
      assert.equal(await fire(url, BOT), 200);
      assert.equal(await fire(url), 200);
      countable = true;
    } else if (plan === 4) {
      const token = url.slice(url.lastIndexOf('/') + 1);
      const flipped = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
      await fire(url.replace(token, flipped));
    }
    if (countable && !late) {
      counted.push({
        servedHourMs: hourStartMs(win.auctionTimeMs),
        seat: win.seat,
        publisher: win.request.site.publisher.id,
        currency: win.currency,
        priceMicros: Math.round(win.clearingPrice * 1_000_000),
      });
    }
  }

  advertiserId = await create('/v1/advertisers', { name: 'Acme' });
  const lineItem = await create('/v1/line-items', {
    advertiserId,
    name: 'CPM',
    revenueType: 'cpm',
    revenueValue: 2.5,
  });
  publisherId = await create('/v1/publishers', { name: 'News', externalId: 'pub-a' });
  await create('/v1/payment-rules', { publisherId, name: 'Base', pricingType: 'revshare', revshare: 0.5 });
  const tracker = await create('/v1/impression-trackers', {
    advertiserId,
    name: 'Homepage',
    lineItemId: lineItem,
    publisherId,
  });
  for (let hit = 0; hit < 6; hit++) {
    const ancost = hit % 2 === 0 ? '&ancost=0.75' : '';
    const url = `${tally.url}/imptr?id=${tracker}&t=2&cachebuster=cb-${hit}${ancost}`;
    const servedHourMs = hourStartMs(Date.now());
    assert.equal(await fire(url), 200);
    if (hit === 3) assert.equal(await fire(url), 200); // a duplicate
    trackerHits.push({ servedHourMs });
  }
  trackerHits = trackerHits.sort((a, b) => a.servedHourMs - b.servedHourMs);
  const key = async (scope: { type: string; id: number }) => {
    const response = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
      name: `${scope.type} key`,
      role: 'reader',
      scope,
    });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return response.body.key as string;
  };
  publisherKey = await key({ type: 'publisher', id: publisherId });
  advertiserKey = await key({ type: 'advertiser', id: advertiserId });
});

after(async () => {
  await tally?.dispose();
});

type Totals = Map<string, { events: number; priceMicros: number }>;

function add(totals: Totals, key: string, priceMicros: number): void {
  const total = totals.get(key) ?? { events: 0, priceMicros: 0 };
  total.events += 1;
  total.priceMicros += priceMicros;
  totals.set(key, total);
}

/** A report's counted rows by seat and currency, its query `window` and `filters` applied. */
async function reportTotals(window: string, filters = '', key = tally.adminKey): Promise<Totals> {
  const response = await api(
    tally,
    key,
    'GET',
    `/v1/reports?${window}&outcome=counted&impressionType=exchange&groupBy=seat,currency${filters}`,
  );
  assert.equal(response.status, 200, `${window}${filters}: ${JSON.stringify(response.body)}`);
  const totals: Totals = new Map();
  for (const row of response.body.rows) {
    totals.set(`${row.seat}/${row.currency}`, { events: row.events, priceMicros: row.priceMicros });
  }
  return totals;
}

/** Every exchange billing record of the served window `window`, page by page (`limit` a page). */
async function records(window: string, filters = '', limit = 1000): Promise<any[]> {
  const all: any[] = [];
  let afterId = '';
  for (let pages = 0; pages < 1000; pages++) {
    const response = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/billing-records?${window}&impressionType=exchange&limit=${limit}${filters}${afterId}`,
    );
    assert.equal(response.status, 200, `${window}${filters}: ${JSON.stringify(response.body)}`);
    all.push(...response.body.records);
    if (response.body.next === null) return all;
    afterId = `&after=${response.body.next}`;
  }
  throw new Error('billing records never ended');
}

function recordTotals(list: readonly any[]): Totals {
  const totals: Totals = new Map();
  for (const record of list) add(totals, `${record.seat}/${record.currency}`, record.priceMicros);
  return totals;
}

function expectedTotals(fromMs: number, toMs: number, seat?: string): Totals {
  const totals: Totals = new Map();
  for (const impression of counted) {
    if (impression.servedHourMs < fromMs || impression.servedHourMs >= toMs) continue;
    if (seat !== undefined && impression.seat !== seat) continue;
    add(totals, `${impression.seat}/${impression.currency}`, impression.priceMicros);
  }
  return totals;
}

const sorted = (totals: Totals) => [...totals.entries()].sort(([a], [b]) => a.localeCompare(b));

describe('reports agree with billing records and with the notices that counted', () => {
  it('adds up, window by window of UTC hours, the counted events and priceMicros of the records served in it and of the notices that counted', async () => {
    const windows: [number, number][] = [[nowHourMs - 7 * DAY_MS, nowHourMs + 2 * HOUR_MS]];
    for (let window = 0; window < 25; window++) {
      const fromMs = nowHourMs - Math.floor(random() * 150) * HOUR_MS;
      windows.push([fromMs, fromMs + (1 + Math.floor(random() * 40)) * HOUR_MS]);
    }
    for (const [fromMs, toMs] of windows) {
      const seat = random() < 0.3 ? pick(SEATS) : undefined;
      const filter = seat === undefined ? '' : `&seat=${seat}`;
      const expected = sorted(expectedTotals(fromMs, toMs, seat));
      const label = `${iso(fromMs)}–${iso(toMs)}${filter}`;
      assert.deepEqual(
        sorted(await reportTotals(`from=${iso(fromMs)}&to=${iso(toMs)}`, filter)),
        expected,
        label,
      );
      const served = `servedFrom=${iso(fromMs)}&servedTo=${iso(toMs)}`;
      assert.deepEqual(sorted(recordTotals(await records(served, filter))), expected, label);
    }
  });

  for (const zone of ['America/New_York', 'Europe/London', 'Australia/Sydney', 'Pacific/Chatham']) {
    it(`adds up each local day of ${zone} as the records served in that day, in the same zone`, async () => {
      const localDates: string[] = [];
      for (let day = -8; day <= 1; day++) {
        localDates.push(
          new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date(nowHourMs + day * DAY_MS)),
        );
      }
      const byDay = await api(
        tally,
        tally.adminKey,
        'GET',
        `/v1/reports?tz=${zone}&from=${localDates[0]}&to=${localDates.at(-1)}&outcome=counted&impressionType=exchange&groupBy=day,currency`,
      );
      if (zone === 'Pacific/Chatham') {
        // +13:45: no whole hour.
        assert.equal(byDay.status, 400, JSON.stringify(byDay.body));
        return;
      }
      assert.equal(byDay.status, 200, JSON.stringify(byDay.body));
      for (const [index, date] of localDates.slice(0, -1).entries()) {
        const window = `tz=${zone}&servedFrom=${date}&servedTo=${localDates[index + 1]}`;
        const list = await records(window);
        const report = await reportTotals(`tz=${zone}&from=${date}&to=${localDates[index + 1]}`);
        assert.deepEqual(sorted(recordTotals(list)), sorted(report), window);
        const dayRows = byDay.body.rows.filter((row: any) => row.day.startsWith(date));
        for (const currency of CURRENCIES) {
          const row = dayRows.find((candidate: any) => candidate.currency === currency);
          const inCurrency = list.filter((record) => record.currency === currency);
          assert.equal(row?.events ?? 0, inCurrency.length, `${window} ${currency}`);
          assert.equal(
            row?.priceMicros ?? 0,
            inCurrency.reduce((sum, record) => sum + record.priceMicros, 0),
            `${window} ${currency}`,
          );
        }
        for (const record of list) assert.ok(record.servedHour.startsWith(date), JSON.stringify(record));
      }
    });
  }

  it('pages through the same records whatever the page size, each once, oldest first', async () => {
    const window = `servedFrom=${iso(nowHourMs - 7 * DAY_MS)}&servedTo=${iso(nowHourMs + 2 * HOUR_MS)}`;
    const whole = await records(window);
    assert.equal(whole.length, counted.length);
    for (const limit of [1, 7, 50]) {
      const paged = await records(window, '', limit);
      assert.deepEqual(
        paged.map((record) => record.id),
        whole.map((record) => record.id),
      );
    }
  });

  it('counts the tracker hits once each, with their media cost and revenue, in the report and in the records', async () => {
    const window = `from=${iso(nowHourMs - HOUR_MS)}&to=${iso(nowHourMs + 2 * HOUR_MS)}`;
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?${window}&outcome=counted&impressionType=external_impression&groupBy=tracker`,
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    const list = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/billing-records?servedFrom=${iso(nowHourMs - HOUR_MS)}&servedTo=${iso(nowHourMs + 2 * HOUR_MS)}&impressionType=external_impression`,
    );
    const hits = list.body.records as any[];
    assert.equal(hits.length, trackerHits.length);
    const [row] = report.body.rows;
    assert.equal(row.events, hits.length);
    assert.equal(
      row.mediaCostMicros,
      hits.reduce((sum, hit) => sum + hit.mediaCostMicros, 0),
    );
    assert.equal(
      row.revenueMicros,
      hits.reduce((sum, hit) => sum + hit.revenueMicros, 0),
    );
  });

  it('shows a publisher key its OpenRTB publisher id’s impressions, without their clearing prices, and its trackers’ hits, and an advertiser key its trackers’ hits alone', async () => {
    const fromMs = nowHourMs - 7 * DAY_MS;
    const toMs = nowHourMs + 2 * HOUR_MS;
    const window = `from=${iso(fromMs)}&to=${iso(toMs)}`;
    const own = new Map<string, { events: number; priceMicros: number }>();
    for (const impression of counted)
      if (impression.publisher === 'pub-a')
        add(own, `${impression.seat}/${impression.currency}`, impression.priceMicros);
    // The publisher's key counts them as the account does, without their clearing prices.
    assert.deepEqual(
      sorted(await reportTotals(window, '', publisherKey)).map(([key, total]) => [
        key,
        total.events,
        total.priceMicros,
      ]),
      sorted(own).map(([key, total]) => [key, total.events, undefined]),
    );
    assert.deepEqual(sorted(await reportTotals(window, '&publisher=pub-a')), sorted(own));
    const byType = async (key: string) => {
      const response = await api(
        tally,
        key,
        'GET',
        `/v1/reports?${window}&outcome=counted&groupBy=impressionType,currency`,
      );
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body.rows.map((row: any) => [row.impressionType, row.events]);
    };
    const ownEvents = [...own.values()].reduce((sum, total) => sum + total.events, 0);
    const perCurrency = (currency: string) =>
      counted.filter((impression) => impression.publisher === 'pub-a' && impression.currency === currency)
        .length;
    assert.deepEqual(await byType(publisherKey), [
      ...(perCurrency('EUR') > 0 ? [['exchange', perCurrency('EUR')]] : []),
      ...(perCurrency('USD') > 0 ? [['exchange', perCurrency('USD')]] : []),
      ['external_impression', trackerHits.length],
    ]);
    assert.ok(ownEvents > 0, 'the advertiser has impressions of its own to report');
    assert.deepEqual(await byType(advertiserKey), [['external_impression', trackerHits.length]]);
  });

  it('lists, by publisherId or by its OpenRTB id, exactly the records its publisher’s key is shown in reports, exchange and tracker alike, window by window', async () => {
    const allRecords = (query: string) => everyBillingRecord(tally, tally.adminKey, query);
    const windows: [number, number][] = [[nowHourMs - 7 * DAY_MS, nowHourMs + 2 * HOUR_MS]];
    for (let window = 0; window < 8; window++) {
      const fromMs = nowHourMs - Math.floor(random() * 150) * HOUR_MS;
      windows.push([fromMs, fromMs + (1 + Math.floor(random() * 40)) * HOUR_MS]);
    }
    windows.push([nowHourMs - HOUR_MS, nowHourMs + HOUR_MS]);
    for (const [fromMs, toMs] of windows) {
      const label = `${iso(fromMs)}–${iso(toMs)}`;
      const report = await api(
        tally,
        publisherKey,
        'GET',
        `/v1/reports?from=${iso(fromMs)}&to=${iso(toMs)}&groupBy=impressionType,currency`,
      );
      assert.equal(report.status, 200, JSON.stringify(report.body));
      const shown = report.body.rows.map((row: any) => [row.impressionType, row.currency, row.events]);
      const served = `servedFrom=${iso(fromMs)}&servedTo=${iso(toMs)}`;
      const byCatalogId = await allRecords(`${served}&publisherId=${publisherId}`);
      const byOpenRtbId = await allRecords(`${served}&publisher=pub-a`);
      const counts = new Map<string, number>();
      for (const record of byCatalogId) {
        const key = `${record.impressionType}\t${record.currency ?? ''}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const listed = [...counts.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, events]) => [...key.split('\t'), events]);
      assert.deepEqual(listed, shown, label);
      assert.deepEqual(
        byOpenRtbId.map((record) => record.id),
        byCatalogId.map((record) => record.id),
        label,
      );
      for (const record of byCatalogId)
        assert.deepEqual([record.publisherId, record.publisher], [publisherId, 'pub-a'], label);
    }
    // Every exchange record names the catalog publisher of its OpenRTB id: pub-b has none (0).
    const all = await allRecords(`servedFrom=${iso(windows[0]?.[0] ?? 0)}&impressionType=exchange`);
    assert.deepEqual([...new Set(all.map((record) => `${record.publisher} ${record.publisherId}`))].sort(), [
      `pub-a ${publisherId}`,
      'pub-b 0',
    ]);
    const pubB = await allRecords('publisherId=0');
    assert.deepEqual(
      pubB.map((record) => record.id),
      all.filter((record) => record.publisher === 'pub-b').map((record) => record.id),
    );
  });

  it('refuses a window whose to is not after its from, in reports and in billing records', async () => {
    for (const [path, query] of [
      ['/v1/reports', `from=${iso(nowHourMs)}&to=${iso(nowHourMs)}`],
      ['/v1/reports', `from=${iso(nowHourMs)}&to=${iso(nowHourMs - HOUR_MS)}`],
      ['/v1/billing-records', `servedFrom=${iso(nowHourMs)}&servedTo=${iso(nowHourMs)}`],
      ['/v1/billing-records', `servedFrom=${iso(nowHourMs)}&servedTo=${iso(nowHourMs - HOUR_MS)}`],
      ['/v1/billing-records', `from=${iso(nowHourMs)}&to=${iso(nowHourMs)}`],
    ] as const) {
      const response = await api(tally, tally.adminKey, 'GET', `${path}?${query}`);
      assert.equal(response.status, 400, `${path}?${query}`);
      assert.equal(response.body.error.code, 'VALIDATION_FAILED');
    }
  });
});
