import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from './auth.js';
import { ApiError } from './api-error.js';
import { parseReportQuery } from './reports.js';
import { HOUR_MS } from '../lib/time.js';
import { localIsoString, offsetAtMs, offsetSegments } from '../lib/time-zone.js';
import { validationFailure } from '../../test/support/validation-failure.js';

const ADMIN: Principal = { accountId: 1, keyId: 1, role: 'admin', scope: null };
const RANGE = 'from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z';
const parse = (query: string) => parseReportQuery(new URLSearchParams(query), ADMIN, () => null);

/** The 400 message `query` is refused with. */
const refusal = (query: string): string => validationFailure(() => parse(query), query);

describe('report queries', () => {
  it('filters on the dimensions named, and takes format=csv as the output rather than an ad format', () => {
    const query = parse(`${RANGE}&groupBy=hour,seat&seat=s1&format=csv&outcome=counted`);
    assert.deepEqual(query.groupBy, ['hour', 'seat']);
    assert.deepEqual(query.filters, { seat: 's1', outcome: 'counted' });
  });

  it('keeps a filter on another dimension whose value is csv or json: only format chooses the output', () => {
    assert.deepEqual(parse(`${RANGE}&seat=csv&publisher=json&format=csv`).filters, {
      seat: 'csv',
      publisher: 'json',
    });
  });

  it('reads a catalog id filter as the id it names, leading zeros and all, so that it matches the rows and a scoped key', () => {
    assert.deepEqual(parse(`${RANGE}&advertiser=05&tracker=0012`).filters, {
      advertiser: '5',
      tracker: '12',
    });
    const scoped: Principal = { ...ADMIN, role: 'reader', scope: { type: 'advertiser', id: 5 } };
    const own = parseReportQuery(new URLSearchParams(`${RANGE}&advertiser=05`), scoped, () => null);
    assert.equal(own.filters.advertiser, '5');
    assert.match(refusal(`${RANGE}&lineItem=9007199254740993`), /at most 2\^53 - 1/);
  });

  it('refuses a misspelt filter instead of answering unfiltered totals, naming it and what is allowed', () => {
    const message = refusal(`${RANGE}&groupBy=hour&sear=s1`);
    assert.match(message, /unknown parameter "sear"/);
    assert.match(message, /seat/);
  });

  it('refuses a filter given twice instead of keeping its first value', () => {
    assert.match(refusal(`${RANGE}&seat=s1&seat=s2`), /"seat" is given more than once/);
  });

  it('refuses format given as both the output and an ad format, saying to ask for CSV with Accept instead', () => {
    assert.equal(
      refusal(`${RANGE}&format=csv&format=banner`),
      'format is given twice, as the output (csv) and as the ad format to filter on (banner): give it once, format=banner, and ask for CSV with Accept: text/csv',
    );
    assert.equal(
      refusal(`${RANGE}&format=video&format=json`),
      'format is given twice, as the output (json) and as the ad format to filter on (video): give it once, format=video, which answers JSON',
    );
    assert.match(refusal(`${RANGE}&format=csv&format=json`), /"format" is given more than once/);
    assert.match(refusal(`${RANGE}&format=banner&format=video`), /"format" is given more than once/);
  });

  it('refuses a from or to that is not on a UTC hour, suggesting the hour that keeps the time sent inside the window (for to the next, after from), so that back-to-back windows never share an hour', () => {
    const refused = [
      ['to', 'from=2026-12-03T11:00:00Z&to=2026-12-03T11:30:00Z', '2026-12-03T12:00:00Z'],
      ['to', 'from=2026-12-03T11:00:00Z&to=2026-12-03T11:00:00.001Z', '2026-12-03T12:00:00Z'],
      ['from', 'from=2026-12-03T11:30:00Z&to=2026-12-03T12:00:00Z', '2026-12-03T11:00:00Z'],
      ['from', 'from=2026-12-03T11:00:00.500Z&to=2026-12-03T12:00:00Z', '2026-12-03T11:00:00Z'],
      // 11:00 at +05:30 is 05:30 UTC.
      ['from', 'from=2026-12-03T11:00:00%2B05:30&to=2026-12-03T12:00:00Z', '2026-12-03T05:00:00Z'],
    ] as const;
    for (const [name, range, example] of refused) {
      assert.equal(
        refusal(range),
        `${name} must be on the hour in UTC (the time it names, its offset applied, has minutes and seconds zero), e.g. ${example}: reports are by the UTC hour the impression was served`,
        range,
      );
      // The example, sent in its place, is taken: the window then holds the time first sent.
      const taken = parse(range.replace(new RegExp(`${name}=[^&]*`), `${name}=${example}`));
      assert.equal(
        new Date(name === 'to' ? taken.toMs : taken.fromMs).toISOString(),
        example.replace('Z', '.000Z'),
      );
    }
  });

  it('reads from and to only as RFC 3339 date-times with an offset, or dates meaning 00:00 UTC, refusing a time without an offset or one Date.parse would guess at', () => {
    const window = (range: string) => {
      const query = parse(range);
      return [new Date(query.fromMs).toISOString(), new Date(query.toMs).toISOString()];
    };
    const eleven = ['2026-12-03T11:00:00.000Z', '2026-12-03T12:00:00.000Z'];
    assert.deepEqual(window('from=2026-12-03T11:00:00Z&to=2026-12-03T12:00:00.000Z'), eleven);
    assert.deepEqual(window('from=2026-12-03T06:00:00-05:00&to=2026-12-03T13:00:00%2B01:00'), eleven);
    assert.deepEqual(window('from=2026-12-03t11:00:00z&to=2026-12-03T12:00:00%2B00:00'), eleven);
    assert.deepEqual(window('from=2024-02-29&to=2024-03-01'), [
      '2024-02-29T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ]);
    for (const range of [
      'from=2026-12-03T11:00:00&to=2026-12-03T12:00:00Z',
      'from=0&to=2026-12-03T12:00:00Z',
      'from=2026-12-03T11:00:00Z&to=12',
      'from=2026-12-03 11:00:00Z&to=2026-12-03T12:00:00Z',
      'from=Thu, 03 Dec 2026 11:00:00 GMT&to=2026-12-03T12:00:00Z',
      'from=2026-12-03T11:00Z&to=2026-12-03T12:00:00Z',
      'to=2026-12-03T12:00:00Z',
    ]) {
      assert.match(
        refusal(range),
        /^(from|to)( is required:| must be) an RFC 3339 date-time with its offset \(Z or ±hh:mm\), e\.g\. .*, or a date, e\.g\. 2026-12-03 \(00:00 UTC\)$/,
        range,
      );
    }
  });

  it('tells a client whose + arrived as a space to send it as %2B', () => {
    assert.match(refusal('from=2026-12-03T11:00:00+01:00&to=2026-12-04'), /send a \+ in a URL as %2B/);
  });

  it('refuses with a 400 a day its month does not have, or a month or hour that does not exist', () => {
    for (const from of [
      '2026-02-30',
      '2025-02-29',
      '2026-13-01T00:00:00Z',
      '2026-00-10',
      '2026-12-03T24:00:00Z',
    ]) {
      assert.match(
        refusal(`from=${from}&to=2027-01-01`),
        /^from is not a real date and time: month 01–12/,
        from,
      );
    }
  });

  it('refuses an hour filter that is not on a UTC hour, and a day filter that is not a UTC day, as never matching', () => {
    assert.match(
      refusal(`${RANGE}&hour=2026-11-01T10:30:00Z`),
      /^hour="2026-11-01T10:30:00Z": must be the start of a UTC hour \(minutes and seconds zero\)/,
    );
    assert.match(
      refusal(`${RANGE}&day=2026-11-01T00:00:00%2B01:00`),
      /^day="2026-11-01T00:00:00\+01:00": must be the start of a UTC day, e\.g\. 2026-11-22/,
    );
    assert.match(refusal(`${RANGE}&day=2026-11-01T10:00:00Z`), /must be the start of a UTC day/);
    assert.match(
      refusal(`${RANGE}&hour=2026-11-01T10:00:00`),
      /^hour="2026-11-01T10:00:00" must be an RFC 3339/,
    );
  });

  it('refuses an hour or day filter outside the window, which no row of the report holds, saying that to is not included', () => {
    assert.equal(
      refusal(`${RANGE}&day=2026-11-02`),
      'day="2026-11-02": names no hour of the window, from 2026-11-01T00:00:00Z up to 2026-11-02T00:00:00Z (to is not included): widen from and to, or filter on a time inside them',
    );
    assert.equal(
      refusal(`${RANGE}&hour=2026-10-31T23:00:00Z`),
      'hour="2026-10-31T23:00:00Z": names no hour of the window, from 2026-11-01T00:00:00Z up to 2026-11-02T00:00:00Z (to is not included): widen from and to, or filter on a time inside them',
    );
    assert.match(
      refusal(`${RANGE}&hour=2026-11-02T00:00:00Z`),
      /^hour="2026-11-02T00:00:00Z": names no hour/,
    );
    // A day the window covers in part, and its first and last hours, are inside it.
    const evening = 'from=2026-11-01T20:00:00Z&to=2026-11-02T02:00:00Z';
    assert.equal(parse(`${evening}&day=2026-11-01`).filters.day, '2026-11-01T00:00:00.000Z');
    assert.equal(parse(`${evening}&day=2026-11-02`).filters.day, '2026-11-02T00:00:00.000Z');
    assert.equal(parse(`${evening}&hour=2026-11-02T01:00:00Z`).filters.hour, '2026-11-02T01:00:00.000Z');
    assert.equal(parse(`${evening}&hour=2026-11-01T20:00:00Z`).filters.hour, '2026-11-01T20:00:00.000Z');
  });

  it('hands the ledger hour and day filters in UTC as toISOString writes them, whatever offset they were given in', () => {
    const query = parse(`${RANGE}&hour=2026-11-01T05:00:00-05:00&day=2026-11-01`);
    assert.deepEqual(query.filters, { hour: '2026-11-01T10:00:00.000Z', day: '2026-11-01T00:00:00.000Z' });
  });

  it('refuses a filter value its dimension never holds instead of answering a report of nothing, naming the values it takes', () => {
    assert.equal(
      refusal(`${RANGE}&outcome=Counted`),
      'outcome="Counted": must be one of counted, not_counted',
    );
    assert.match(refusal(`${RANGE}&impressionType=external`), /must be one of exchange, external_impression/);
    assert.match(
      refusal(`${RANGE}&format=Banner`),
      /^format="Banner": must be one of banner, video, audio, native \(or empty, .*\); format=csv or format=json chooses the output$/,
    );
    assert.match(refusal(`${RANGE}&channel=mobile`), /must be one of web, app, ctv/);
    assert.match(refusal(`${RANGE}&method=pixel`), /must be one of adm, omid, burl, vast, native/);
    // Every value a row can hold is taken, the empty one too where rows may lack the dimension.
    const taken = parse(
      `${RANGE}&outcome=not_counted&impressionType=external_click&format=video&channel=&method=vast`,
    );
    assert.deepEqual(taken.filters, {
      outcome: 'not_counted',
      impressionType: 'external_click',
      format: 'video',
      channel: '',
      method: 'vast',
    });
    assert.deepEqual(parse(`${RANGE}&format=&method=`).filters, { format: '', method: '' });
  });

  it('refuses a misspelt reason or a currency that is not an ISO 4217 code, and takes every reason a row holds', () => {
    assert.match(
      refusal(`${RANGE}&reason=invalid_trafic`),
      /^reason="invalid_trafic": must be one of late, duplicate, invalid_traffic, .*, inactive_tracker, no_landing_page \(or empty, for rows without one\)$/,
    );
    assert.match(refusal(`${RANGE}&currency=usd`), /^currency="usd": must be an ISO 4217 code/);
    assert.match(refusal(`${RANGE}&currency=US`), /ISO 4217/);
    for (const reason of ['', 'invalid_token', 'inactive_tracker', 'not_billing_method']) {
      assert.deepEqual(parse(`${RANGE}&reason=${reason}&currency=EUR`).filters, { reason, currency: 'EUR' });
    }
    assert.deepEqual(parse(`${RANGE}&currency=`).filters, { currency: '' });
  });

  it('refuses a groupBy dimension it does not know, naming it and the dimensions it takes, instead of failing the report', () => {
    assert.equal(
      refusal(`${RANGE}&groupBy=hour,sea`),
      'groupBy: unknown dimension "sea"; use any of hour, day, outcome, reason, impressionType, format, channel, method, seat, publisher, publisherId, advertiser, lineItem, tracker, placement, paymentRule, cachebusterMissing, notice, ivtRule, vastError, currency',
    );
  });

  it('refuses a catalog id filter that is empty or not decimal digits, instead of reading it as another id (1e3 as 1000, an empty one as 0)', () => {
    for (const value of ['', '1e3', '-1', '1.5', '0x10', ' 5']) {
      assert.equal(
        refusal(`${RANGE}&advertiser=${encodeURIComponent(value)}`),
        `advertiser=${JSON.stringify(value)}: must be a numeric id`,
        value,
      );
    }
  });

  it('filters on a VAST error code of three digits or on none (empty), and refuses any other value, which no row holds', () => {
    assert.deepEqual(parse(`${RANGE}&vastError=303`).filters, { vastError: '303' });
    assert.deepEqual(parse(`${RANGE}&vastError=`).filters, { vastError: '' });
    for (const value of ['[ERRORCODE]', 'abc', '42', '099', '1000', '303.0', ' 303', '3e2']) {
      assert.equal(
        refusal(`${RANGE}&vastError=${encodeURIComponent(value)}`),
        `vastError=${JSON.stringify(value)}: must be a VAST error code, 100 to 999 (or empty, for rows without one)`,
        value,
      );
    }
  });

  it('refuses minute 60, second 60 and offsets past ±23:59 as not real times, naming the offsets, rather than reading them as the next hour', () => {
    for (const from of [
      '2026-12-03T10:60:00Z',
      '2026-12-03T10:59:60Z',
      '2026-12-04T11:00:00%2B24:00',
      '2026-12-03T12:00:00%2B00:60',
    ]) {
      assert.match(
        refusal(`from=${from}&to=2026-12-05`),
        /^from is not a real date and time: month 01–12, a day its month has, hours 00–23, minutes and seconds 00–59, an offset from -23:59 to \+23:59$/,
        from,
      );
    }
  });

  it('refuses a time with anything before its year, or a fraction of a second without digits', () => {
    for (const from of ['x2026-12-03', '12026-12-03T11:00:00Z', '2026-12-03T11:00:00.Z']) {
      assert.match(
        refusal(`from=${from}&to=2026-12-05`),
        /^from must be an RFC 3339 date-time with its offset/,
        from,
      );
    }
  });

  it('refuses a time a fraction of a millisecond off the hour, which a sum in milliseconds would round onto it', () => {
    for (const from of [
      '2026-12-03T10:59:59.9999999999999999Z',
      '2026-12-03T11:00:00.0000000000000000001Z',
      '2026-12-03T11:00:00.0001Z',
    ]) {
      assert.match(
        refusal(`from=${from}&to=2026-12-05`),
        /^from names a time finer than a millisecond/,
        from,
      );
    }
    assert.match(
      refusal(`${RANGE}&hour=2026-12-03T10:59:59.99999999999999999Z`),
      /^hour=.* finer than a millisecond/,
    );
    // Zeros past the millisecond change nothing.
    assert.equal(
      parse('from=2026-12-03T11:00:00.000000000Z&to=2026-12-05').fromMs,
      Date.UTC(2026, 11, 3, 11),
    );
  });

  it('repeats at most 64 characters of an unknown parameter name', () => {
    const message = refusal(`${RANGE}&${'x'.repeat(10_000)}=1`);
    assert.ok(message.length < 400, `message of ${message.length} characters`);
  });
});

describe('report windows and scopes', () => {
  it('refuses a window that ends where it begins, saying to is not included, and takes one of exactly 400 days but not an hour more', () => {
    const oneDay =
      'to must be after from: to is not included, so one day, e.g. 2026-12-03, is from=2026-12-03&to=2026-12-04';
    assert.equal(refusal('from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z'), oneDay);
    // A day's report asked for as from and to the same day, as its reader says it.
    assert.equal(refusal('from=2026-11-01&to=2026-11-01&tz=America/New_York'), oneDay);
    const longest = parse('from=2026-01-01&to=2027-02-05');
    assert.equal(longest.toMs - longest.fromMs, 400 * 86_400_000);
    assert.match(refusal('from=2026-01-01&to=2027-02-05T01:00:00Z'), /a report spans at most 400 days/);
  });

  it('takes 400 days of a time zone whose clocks change in them, an hour more or less in UTC, and not a day more', () => {
    // New York falls back on 2026-11-01 and 2027-11-07: 400 of its days are 400 days and an hour.
    const local = parse('from=2026-10-31&to=2027-12-05&tz=America/New_York');
    assert.equal(local.toMs - local.fromMs, 400 * 86_400_000 + 3_600_000);
    assert.match(
      refusal('from=2026-10-31&to=2027-12-06&tz=America/New_York'),
      /a report spans at most 400 days/,
    );
  });

  it('groups by each dimension once, whatever spaces, repeats or empty items groupBy has', () => {
    assert.deepEqual(parse(`${RANGE}&groupBy= hour, seat,,seat,`).groupBy, ['hour', 'seat']);
    assert.deepEqual(parse(`${RANGE}&groupBy=`).groupBy, []);
  });

  it('reads the last hour of a day, and offsets up to ±23:59, as real times', () => {
    const at = (time: string) => new Date(parse(`from=${time}&to=2026-12-05`).fromMs).toISOString();
    assert.equal(at('2026-12-03T23:00:00Z'), '2026-12-03T23:00:00.000Z');
    assert.equal(at('2026-12-04T22:00:00%2B23:00'), '2026-12-03T23:00:00.000Z');
    assert.equal(at('2026-12-03T00:59:00%2B00:59'), '2026-12-03T00:00:00.000Z');
  });

  it('takes cachebusterMissing=true or false and refuses any other value', () => {
    assert.deepEqual(parse(`${RANGE}&cachebusterMissing=true`).filters, { cachebusterMissing: 'true' });
    assert.deepEqual(parse(`${RANGE}&cachebusterMissing=false`).filters, { cachebusterMissing: 'false' });
    assert.equal(refusal(`${RANGE}&cachebusterMissing=1`), 'cachebusterMissing="1": must be true or false');
  });

  it('reports the caller’s own account only', () => {
    const rival: Principal = { accountId: 7, keyId: 9, role: 'reader', scope: null };
    assert.equal(parseReportQuery(new URLSearchParams(RANGE), rival, () => null).accountId, 7);
  });

  it('keeps an advertiser-scoped key to its advertiser’s rows, refusing a filter on another with 403', () => {
    const scoped: Principal = {
      accountId: 1,
      keyId: 2,
      role: 'reader',
      scope: { type: 'advertiser', id: 5 },
    };
    const query = (extra: string) =>
      parseReportQuery(new URLSearchParams(`${RANGE}${extra}`), scoped, () => null);
    assert.equal(query('').filters.advertiser, '5');
    assert.throws(
      () => query('&advertiser=6'),
      (error: unknown) =>
        error instanceof ApiError &&
        error.status === 403 &&
        error.code === 'FORBIDDEN' &&
        error.message ===
          'your key is scoped to advertiser 5: filter on advertiser=5, or leave the filter out',
    );
  });

  it('keeps a publisher-scoped key to its own rows: it may filter on its OpenRTB publisher id and its catalog id, and gets 403 for any other', () => {
    const scoped: Principal = { accountId: 1, keyId: 2, role: 'reader', scope: { type: 'publisher', id: 3 } };
    const asked: [number, number][] = [];
    const query = (extra: string) =>
      parseReportQuery(new URLSearchParams(`${RANGE}${extra}`), scoped, (accountId, publisherId) => {
        asked.push([accountId, publisherId]);
        return 'site-pub-9';
      });
    const scope = { catalogId: '3', externalId: 'site-pub-9' };
    assert.deepEqual(query('').publisherScope, scope);
    assert.deepEqual(asked[0], [1, 3]);
    assert.deepEqual(query('&publisher=site-pub-9').filters, { publisher: 'site-pub-9', outcome: 'counted' });
    assert.deepEqual(query('&publisherId=3').publisherScope, scope);
    for (const other of ['&publisher=site-pub-8', '&publisher=3', '&publisherId=4']) {
      assert.throws(
        () => query(other),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === 403 &&
          error.code === 'FORBIDDEN' &&
          // Says which ids it may filter on: publisher used to take the catalog id too.
          error.message ===
            'your key is scoped to publisher 3: filter on publisherId=3, or publisher=site-pub-9 (its OpenRTB publisher id)',
        other,
      );
    }
    // A publisher without an OpenRTB id has only rows without one.
    const noExternal = (extra: string) =>
      parseReportQuery(new URLSearchParams(`${RANGE}${extra}`), scoped, () => null);
    assert.deepEqual(noExternal('&publisher=').publisherScope, { catalogId: '3', externalId: null });
    assert.throws(
      () => noExternal('&publisher=site-pub-9'),
      (error: unknown) => error instanceof ApiError && error.status === 403,
    );
  });
});

describe('report queries in a time zone (tz)', () => {
  /** The window and filters of `query`, each time as toISOString writes it. */
  const times = (query: string) => {
    const parsed = parse(query);
    const iso = (ms: number) => new Date(ms).toISOString();
    return { from: iso(parsed.fromMs), to: iso(parsed.toMs), filters: parsed.filters, tz: parsed.timeZone };
  };

  it('reads from and to given as dates as their midnights in the zone, 23 or 25 hours apart over New York’s changes', () => {
    assert.deepEqual(times('tz=America/New_York&from=2026-03-08&to=2026-03-09'), {
      from: '2026-03-08T05:00:00.000Z',
      to: '2026-03-09T04:00:00.000Z',
      filters: {},
      tz: 'America/New_York',
    });
    const back = parse('tz=America/New_York&from=2026-11-01&to=2026-11-02');
    assert.equal(back.toMs - back.fromMs, 25 * 3_600_000);
    assert.equal(times('tz=Europe/Paris&from=2026-11-22&to=2026-11-23').from, '2026-11-21T23:00:00.000Z');
  });

  it('refuses a day filter of the zone outside the window, and takes one the window covers an hour of, 25-hour days included', () => {
    const fallBack = 'tz=America/New_York&from=2026-11-01&to=2026-11-02';
    assert.equal(
      refusal(`${fallBack}&day=2026-11-02`),
      'day="2026-11-02": names no hour of the window, from 2026-11-01T00:00:00-04:00 up to 2026-11-02T00:00:00-05:00 (to is not included): widen from and to, or filter on a time inside them',
    );
    assert.match(refusal(`${fallBack}&day=2026-10-31`), /^day="2026-10-31": names no hour of the window/);
    // The last hour of New York's 25-hour 2026-11-01 is the window's first of the next UTC day.
    const lastHour = 'tz=America/New_York&from=2026-11-02T04:00:00Z&to=2026-11-02T05:00:00Z';
    assert.equal(parse(`${lastHour}&day=2026-11-01`).filters.day, '2026-11-01T04:00:00.000Z');
  });

  it('reads from and to given with an offset as the instant they name, which must still be on the hour', () => {
    assert.deepEqual(times('tz=America/New_York&from=2026-11-22T10:00:00Z&to=2026-11-22T06:00:00-05:00'), {
      from: '2026-11-22T10:00:00.000Z',
      to: '2026-11-22T11:00:00.000Z',
      filters: {},
      tz: 'America/New_York',
    });
    assert.equal(
      refusal('tz=America/New_York&from=2026-11-22T10:30:00Z&to=2026-11-23'),
      'from must be on the hour (the time it names, its offset applied, has minutes and seconds zero), e.g. 2026-11-22T05:00:00-05:00: reports are by the hour the impression was served',
    );
    // A to off the hour suggests the next one, after a from in the hour before it.
    assert.equal(
      refusal('tz=America/New_York&from=2026-11-22T05:00:00-05:00&to=2026-11-22T05:30:00-05:00'),
      'to must be on the hour (the time it names, its offset applied, has minutes and seconds zero), e.g. 2026-11-22T06:00:00-05:00: reports are by the hour the impression was served',
    );
  });

  it('takes a zone’s name in any case or by an alias, and leaves a UTC query as it is without tz', () => {
    assert.equal(parse(`${RANGE}&tz=america/new_york`).timeZone, 'America/New_York');
    // An alias as given: ICU's own name for Europe/Kyiv is Europe/Kiev.
    assert.equal(parse(`${RANGE}&tz=US/Eastern`).timeZone, 'US/Eastern');
    assert.equal(parse(`${RANGE}&tz=Europe/Kyiv`).timeZone, 'Europe/Kyiv');
    for (const utc of ['UTC', 'Etc/UTC', 'utc'])
      assert.deepEqual(parse(`${RANGE}&tz=${utc}&day=2026-11-01`), parse(`${RANGE}&day=2026-11-01`), utc);
  });

  it('refuses a zone it does not know, naming the parameter and giving an example', () => {
    for (const tz of ['Mars/Olympus', '', 'EST5', '-05:00']) {
      assert.equal(
        refusal(`${RANGE}&tz=${encodeURIComponent(tz)}`),
        `tz=${JSON.stringify(tz)}: no such time zone; give an IANA time zone name, e.g. tz=America/New_York, tz=Europe/Paris or tz=UTC (the default)`,
        tz,
      );
    }
  });

  it('tells a client whose tz lost its + as a space (Etc/GMT+5 sent unencoded) to send it as %2B, and not one whose space was never a +', () => {
    assert.equal(
      refusal(`${RANGE}&tz=Etc/GMT+5`),
      'tz="Etc/GMT 5": no such time zone; Etc/GMT+5 is one: send a + in a URL as %2B (tz=Etc/GMT%2B5)',
    );
    // A space that stands for no + of a zone: the names there are, not a + to send.
    assert.equal(
      refusal(`${RANGE}&tz=America/New York`),
      'tz="America/New York": no such time zone; give an IANA time zone name, e.g. tz=America/New_York, tz=Europe/Paris or tz=UTC (the default)',
    );
  });

  it('refuses a zone a half or a quarter of an hour off UTC, whose days no hourly rollups make, saying what to ask for instead', () => {
    for (const [tz, offset, midnight] of [
      ['Asia/Kolkata', '+05:30', '2026-11-21T18:30:00.000Z'],
      ['Asia/Kathmandu', '+05:45', '2026-11-21T18:15:00.000Z'],
      ['Australia/Adelaide', '+10:30', '2026-11-21T13:30:00.000Z'],
    ]) {
      assert.equal(
        refusal(`tz=${tz}&from=2026-11-22&to=2026-11-23`),
        `tz=${tz} is ${offset} from UTC at ${midnight}, not a whole number of hours: reports are made of hourly rollups (by the UTC hour), which cannot be split between its days or hours; ask for the report in a zone whose offset is a whole number of hours, or in UTC (leave tz out)`,
      );
      assert.match(
        refusal(`tz=${tz}&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z`),
        /not a whole number of hours/,
      );
    }
  });

  it('takes a window that ends as Lord Howe’s clocks go back half an hour, all its hours at +11:00, though the zone is +10:30 at the to it does not include', () => {
    // Lord Howe goes from +11:00 to +10:30 at 2026-04-04T15:00Z, 02:00 there on 5 April.
    const summer = 'tz=Australia/Lord_Howe&from=2026-04-04';
    assert.deepEqual(times(`${summer}&to=2026-04-05T02:00:00%2B11:00`), {
      from: '2026-04-03T13:00:00.000Z',
      to: '2026-04-04T15:00:00.000Z',
      filters: {},
      tz: 'Australia/Lord_Howe',
    });
  });

  it('suggests, for a from off the hour just after Lord Howe’s clocks go on to +11:00, the hour after it, as the hour before is at +10:30, where no from is taken', () => {
    // Lord Howe goes from +10:30 to +11:00 at 2026-10-03T15:30Z, 02:00 there on 4 October.
    const window = 'tz=Australia/Lord_Howe&to=2026-10-06';
    assert.equal(
      refusal(`${window}&from=${encodeURIComponent('2026-10-04T02:30:00+11:00')}`),
      'from must be on the hour (the time it names, its offset applied, has minutes and seconds zero), e.g. 2026-10-04T03:00:00+11:00: reports are by the hour the impression was served',
    );
    assert.equal(
      times(`${window}&from=${encodeURIComponent('2026-10-04T03:00:00+11:00')}`).from,
      '2026-10-03T16:00:00.000Z',
    );
    // Off the hour earlier in the summer, the hour before it is the example, as before.
    assert.match(
      refusal(`${window}&from=${encodeURIComponent('2026-10-05T03:30:00+11:00')}`),
      /, e\.g\. 2026-10-05T03:00:00\+11:00: /,
    );
  });

  it('says a date means its midnight in the zone when refusing a time it cannot read', () => {
    assert.match(
      refusal('tz=America/New_York&from=2026-11-22T10:00:00&to=2026-11-23'),
      /^from must be an RFC 3339 date-time with its offset .*, or a date, e\.g\. 2026-12-03 \(00:00 in America\/New_York\)$/,
    );
    assert.match(
      refusal('tz=America/New_York&to=2026-11-23'),
      /^from is required: .*\(00:00 in America\/New_York\)$/,
    );
    assert.match(
      refusal('tz=Pacific/Apia&from=2011-12-30&to=2012-01-02'),
      /^from: Pacific\/Apia skipped that date/,
    );
  });

  it('takes a day filter as a local date or its first instant in any offset, and hands the ledger that instant', () => {
    const window = 'tz=America/New_York&from=2026-10-31&to=2026-11-03';
    for (const day of ['2026-11-01', '2026-11-01T00:00:00-04:00', '2026-11-01T04:00:00Z']) {
      assert.deepEqual(
        parse(`${window}&day=${encodeURIComponent(day)}`).filters,
        { day: '2026-11-01T04:00:00.000Z' },
        day,
      );
    }
    assert.deepEqual(parse(`${window}&day=2026-11-02`).filters, { day: '2026-11-02T05:00:00.000Z' });
  });

  it('refuses a day filter that is not a local midnight, giving the day’s own midnight as the example', () => {
    const window = 'tz=America/New_York&from=2026-10-31&to=2026-11-03';
    assert.equal(
      refusal(`${window}&day=2026-11-01T00:00:00Z`),
      'day="2026-11-01T00:00:00Z": must be the start of a day in America/New_York, e.g. 2026-10-31 or 2026-10-31T00:00:00-04:00: days are America/New_York days',
    );
    // 00:00 at the offset of the day before the change is not the next day's midnight.
    assert.match(
      refusal(`${window}&day=2026-11-02T00:00:00-04:00`),
      /e\.g\. 2026-11-01 or 2026-11-01T00:00:00-04:00: days are America\/New_York days$/,
    );
  });

  it('takes an hour filter as a local hour in any offset, the two 01:00s of 1 November apart, and refuses one off the hour', () => {
    const window = 'tz=America/New_York&from=2026-10-31&to=2026-11-03';
    const hour = (value: string) => parse(`${window}&hour=${encodeURIComponent(value)}`).filters.hour;
    assert.equal(hour('2026-11-01T01:00:00-04:00'), '2026-11-01T05:00:00.000Z');
    assert.equal(hour('2026-11-01T01:00:00-05:00'), '2026-11-01T06:00:00.000Z');
    assert.equal(hour('2026-11-01'), '2026-11-01T04:00:00.000Z', 'a date is its local midnight');
    assert.equal(
      refusal(`${window}&hour=2026-11-01T01:30:00-05:00`),
      'hour="2026-11-01T01:30:00-05:00": must be the start of an hour (minutes and seconds zero), e.g. 2026-11-01T01:00:00-05:00: rows are by the hour the impression was served',
    );
  });
});

describe('the examples a report query’s refusals suggest', () => {
  /**
   * Zones whose clocks change by half an hour, or whose offsets are not whole hours, and three
   * whose offsets are (Santiago's clocks change at midnight).
   */
  const ZONES = [
    'Australia/Lord_Howe',
    'Asia/Kathmandu',
    'Australia/Eucla',
    'Pacific/Chatham',
    'America/St_Johns',
    'Asia/Kolkata',
    'Australia/Adelaide',
    'America/New_York',
    'Europe/London',
    'America/Santiago',
  ];
  const MINUTE_MS = 60_000;
  const YEAR_FROM_MS = Date.UTC(2026, 0, 1);
  const YEAR_TO_MS = Date.UTC(2027, 0, 1);

  /** `atMs` in `timeZone`'s local time with its offset, and in UTC, to the second. */
  const writings = (timeZone: string, atMs: number) => [
    localIsoString(atMs, offsetAtMs(timeZone, atMs)).replace('.000', ''),
    new Date(atMs).toISOString().replace('.000', ''),
  ];
  /** `atMs` in UTC, to the second: a window's other bound, or its filter's. */
  const utc = (atMs: number) => new Date(atMs).toISOString().replace('.000', '');
  /** The refusal `query` gets, or `accepted`. */
  const outcome = (query: URLSearchParams): string => {
    try {
      parseReportQuery(query, ADMIN, () => null);
      return 'accepted';
    } catch (error) {
      if (error instanceof ApiError) return error.message;
      throw error;
    }
  };

  it('takes back, for every refusal of a from, to, hour or day that gives an example, the example given, in every zone around its clock changes', () => {
    const checked = { from: 0, to: 0, hour: 0, day: 0 };
    for (const timeZone of ZONES) {
      const changesMs = offsetSegments(timeZone, YEAR_FROM_MS, YEAR_TO_MS).map((segment) => segment.startMs);
      for (const changeMs of [...changesMs, Date.UTC(2026, 6, 15, 12)]) {
        for (let deltaMs = -120 * MINUTE_MS; deltaMs <= 120 * MINUTE_MS; deltaMs += 15 * MINUTE_MS) {
          const atMs = changeMs + deltaMs;
          const hourMs = atMs - (atMs % HOUR_MS);
          for (const value of writings(timeZone, atMs)) {
            const queries: [keyof typeof checked, Record<string, string>][] = [
              ['from', { from: value, to: utc(hourMs + 2 * 24 * HOUR_MS) }],
              ['to', { from: utc(hourMs - 2 * 24 * HOUR_MS), to: value }],
              ['hour', { from: utc(hourMs - 24 * HOUR_MS), to: utc(hourMs + 24 * HOUR_MS), hour: value }],
              [
                'day',
                { from: utc(hourMs - 3 * 24 * HOUR_MS), to: utc(hourMs + 3 * 24 * HOUR_MS), day: value },
              ],
            ];
            for (const [name, params] of queries) {
              const query = new URLSearchParams({ tz: timeZone, ...params });
              const refused = outcome(query);
              // Only a refusal of the value swept, with an example: a window refused for another
              // bound, or for its zone's offsets, is no refusal of it.
              if (!refused.startsWith(name === 'from' || name === 'to' ? `${name} ` : `${name}=`)) continue;
              const examples = [
                ...refused.matchAll(
                  /(?:e\.g\.|or) (\d{4}-\d{2}-\d{2}(?:T[\d:]{8}(?:Z|[+-]\d{2}:\d{2}))?)\b/g,
                ),
              ];
              for (const [, example = ''] of examples) {
                query.set(name, example);
                assert.equal(
                  outcome(query),
                  'accepted',
                  `tz=${timeZone}&${name}=${value}, refused "${refused}", sent back with ${name}=${example}`,
                );
                checked[name] += 1;
              }
            }
          }
        }
      }
    }
    // Each kind of refusal gave examples to send back: the sweep reached them.
    assert.deepEqual(
      Object.entries(checked)
        .filter(([, count]) => count > 0)
        .map(([name]) => name),
      ['from', 'to', 'hour', 'day'],
      JSON.stringify(checked),
    );
  });
});
