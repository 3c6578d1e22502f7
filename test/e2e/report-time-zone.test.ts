import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

/**
 * Reports in the reader's time zone (`tz=`) over real HTTP, across the day New York's clocks go
 * back (1 November 2026, 25 hours). The server runs in Tokyo time, which no answer may show.
 */

let tally: TestServer;

/**
 * The auctions, each a win registered with its `auctionTimeMs` and its notice fired: long past its
 * TTL, so each is recorded `late`, under the UTC hour of its auction.
 */
const AUCTIONS = [
  ['2026-11-01T03:30:00Z', '31 October, 23:30 EDT'],
  ['2026-11-01T04:10:00Z', '1 November, 00:10 EDT'],
  ['2026-11-01T05:30:00Z', '1 November, 01:30 EDT'],
  ['2026-11-01T06:30:00Z', '1 November, 01:30 EST, the second 01:30'],
  ['2026-11-02T04:45:00Z', '1 November, 23:45 EST, its 25th hour'],
  ['2026-11-02T05:15:00Z', '2 November, 00:15 EST'],
  ['2026-04-04T14:10:00Z', 'Lord Howe, 5 April, 01:10 +11:00, its last summer hour'],
  ['2026-04-04T15:10:00Z', 'Lord Howe, 5 April, 01:40 +10:30, after its clocks went back'],
] as const;

const NEW_YORK = 'tz=America/New_York&from=2026-10-31&to=2026-11-03';

async function report(query: string): Promise<{ status: number; body: any; headers: Headers }> {
  return api(tally, tally.adminKey, 'GET', `/v1/reports?${query}`);
}

/** A report's rows as `[value of dimension, events]`, 200 expected. */
async function eventsBy(dimension: string, query: string): Promise<[string, number][]> {
  const response = await report(`${query}&groupBy=${dimension}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.rows.map((row: any) => [row[dimension], row.events]);
}

before(async () => {
  tally = await startServer({ TZ: 'Asia/Tokyo' });
  const wins = AUCTIONS.map(([time], index) => ({
    request: { id: `ny-${index}`, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
    seat: 's1',
    bid: { id: 'b1', impid: '1', price: 1, adm: '<div>ad</div>' },
    auctionTimeMs: Date.parse(time),
  }));
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  for (const result of registered.body.results) {
    assert.equal(result.ok, true, JSON.stringify(result));
    const notice = await fetch(result.noticeUrls[result.method], { headers: { 'user-agent': CHROME } });
    assert.equal(notice.status, 200);
  }
});

after(async () => {
  await tally?.dispose();
});

describe('reports in a time zone', () => {
  it('adds up the 25 hours of 1 November in New York into its day, and UTC days as before without tz', async () => {
    const response = await report(`${NEW_YORK}&groupBy=day,reason`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(
      [response.body.from, response.body.to, response.body.timeZone],
      ['2026-10-31T00:00:00.000-04:00', '2026-11-03T00:00:00.000-05:00', 'America/New_York'],
    );
    assert.deepEqual(
      response.body.rows.map((row: any) => [row.day, row.reason, row.events]),
      [
        ['2026-10-31T00:00:00.000-04:00', 'late', 1],
        ['2026-11-01T00:00:00.000-04:00', 'late', 4],
        ['2026-11-02T00:00:00.000-05:00', 'late', 1],
      ],
    );
    assert.deepEqual(await eventsBy('day', 'from=2026-10-31&to=2026-11-03'), [
      ['2026-11-01T00:00:00.000Z', 4],
      ['2026-11-02T00:00:00.000Z', 2],
    ]);
    for (const utc of ['', '&tz=UTC']) {
      const body = (await report(`from=2026-10-31&to=2026-11-03${utc}`)).body;
      assert.deepEqual(Object.keys(body), ['from', 'to', 'groupBy', 'warnings', 'rows']);
    }
  });

  it('names each hour in New York time with its offset, the two 01:00s apart, and filters on one given in either', async () => {
    assert.deepEqual(await eventsBy('hour', `${NEW_YORK}&day=2026-11-01`), [
      ['2026-11-01T00:00:00.000-04:00', 1],
      ['2026-11-01T01:00:00.000-04:00', 1],
      ['2026-11-01T01:00:00.000-05:00', 1],
      ['2026-11-01T23:00:00.000-05:00', 1],
    ]);
    assert.deepEqual(await eventsBy('hour', `${NEW_YORK}&hour=2026-11-01T01:00:00-05:00`), [
      ['2026-11-01T01:00:00.000-05:00', 1],
    ]);
    assert.deepEqual(await eventsBy('day', `${NEW_YORK}&day=2026-11-02T00:00:00-05:00`), [
      ['2026-11-02T00:00:00.000-05:00', 1],
    ]);
  });

  it('answers the same days in CSV, in a file named by its window in local hours with their offsets', async () => {
    const response = await fetch(`${tally.url}/v1/reports?${NEW_YORK}&groupBy=day&format=csv`, {
      headers: { authorization: `Bearer ${tally.adminKey}` },
    });
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get('content-disposition'),
      'attachment; filename="tally-report-2026-10-31T00-0400-2026-11-03T00-0500.csv"',
    );
    assert.equal(
      await response.text(),
      'day,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros\r\n' +
        '2026-10-31T00:00:00.000-04:00,1,0,0,0,0\r\n' +
        '2026-11-01T00:00:00.000-04:00,4,0,0,0,0\r\n' +
        '2026-11-02T00:00:00.000-05:00,1,0,0,0,0\r\n',
    );
  });

  it('names the zone as tz gave it, an alias too, with the offsets it has: Etc/GMT+5 is five hours behind UTC, Etc/UTC is UTC', async () => {
    const day = 'from=2026-11-02&to=2026-11-03&groupBy=day';
    const eastern = await report(`tz=US/Eastern&${day}`);
    const newYork = await report(`tz=America/New_York&${day}`);
    assert.equal(eastern.body.timeZone, 'US/Eastern');
    assert.deepEqual(eastern.body.rows, newYork.body.rows);
    const gmtPlus5 = await report(`tz=Etc/GMT%2B5&${day}`);
    assert.deepEqual(
      [gmtPlus5.body.timeZone, gmtPlus5.body.from, gmtPlus5.body.rows],
      ['Etc/GMT+5', '2026-11-02T00:00:00.000-05:00', newYork.body.rows],
    );
    assert.deepEqual((await report(`tz=Etc/UTC&${day}`)).body, (await report(day)).body);
  });

  it('answers a window in Lord Howe up to the instant its clocks go back half an hour, and refuses one past it', async () => {
    // Lord Howe goes from +11:00 to +10:30 at 2026-04-04T15:00Z, 02:00 there on 5 April.
    const summer = 'tz=Australia/Lord_Howe&from=2026-04-04';
    const response = await report(`${summer}&to=2026-04-05T02:00:00%2B11:00&groupBy=hour`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(
      [response.body.from, response.body.to],
      ['2026-04-04T00:00:00.000+11:00', '2026-04-05T01:30:00.000+10:30'],
    );
    assert.deepEqual(
      response.body.rows.map((row: any) => [row.hour, row.events]),
      [['2026-04-05T01:00:00.000+11:00', 1]],
    );
    const past = await report(`${summer}&to=2026-04-05T03:00:00%2B11:00`);
    assert.equal(past.status, 400);
    assert.match(
      past.body.error.message,
      /^tz=Australia\/Lord_Howe is \+10:30 from UTC at 2026-04-04T15:00:00\.000Z, not a whole number of hours/,
    );
  });

  it('refuses an unknown zone, a zone half an hour off UTC and a day filter that is no local midnight, with 400 VALIDATION_FAILED', async () => {
    for (const [query, message] of [
      [
        'tz=Mars/Olympus&from=2026-10-31&to=2026-11-03',
        /^tz="Mars\/Olympus": no such time zone; .*tz=America\/New_York/,
      ],
      [
        'tz=Asia/Kolkata&from=2026-10-31&to=2026-11-03',
        /^tz=Asia\/Kolkata is \+05:30 from UTC .*or in UTC \(leave tz out\)$/,
      ],
      [
        `${NEW_YORK}&day=2026-11-01T00:00:00Z`,
        /must be the start of a day in America\/New_York, e\.g\. 2026-10-31 or/,
      ],
    ] as const) {
      const response = await report(query);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.error.code, 'VALIDATION_FAILED');
      assert.equal(response.body.error.requestId, response.headers.get('x-request-id'));
      assert.match(response.body.error.message, message, query);
    }
  });
});
