import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { invalidTraffic, notCounted } from '../../domain/outcome.js';
import Database from 'better-sqlite3';
import { openSqlite } from './database.js';
import { SqliteLedger } from './ledger.js';
import { SqliteAccountStore } from './accounts.js';
import { SqliteCatalogStore } from './catalog.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { HOUR_MS } from '../../lib/time.js';
import type { EventRecord, ReportAmount, ReportDimension } from '../../ports/ledger.js';
import { MixedCurrenciesError, REPORT_DIMENSIONS, ReportTooLargeError } from '../../ports/ledger.js';
import {
  ledgerPerTest,
  T0_HOUR,
  HOUR_AROUND_T0,
  byOutcomeAndCurrency,
} from '../../../test/support/sqlite-ledgers.js';
import { sqlPreparedBy } from '../../../test/support/prepared-sql.js';

const event = exchangeEvent;
let ledger: SqliteLedger;
const ledgers = ledgerPerTest('tally-rollup-report-', (opened) => {
  ledger = opened;
});
const { dir } = ledgers;

/** A step of SQLite's `EXPLAIN QUERY PLAN`: what it does, and the step it is part of. */
interface PlanStep {
  parent: number;
  detail: string;
}

/**
 * The query plan of each read of the rollups that `reports` makes on a new ledger named `name`, in
 * the order made, each with placeholder parameters.
 */
function rollupReadPlans(name: string, reports: (ledger: SqliteLedger) => void): PlanStep[][] {
  const db = openSqlite(ledgers.newPath(name));
  const ledger = new SqliteLedger(db);
  const plans = sqlPreparedBy(db, () => reports(ledger))
    .filter((sql) => sql.includes('FROM rollup_hourly'))
    .map((sql) => {
      const parameters = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 0);
      return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as PlanStep[];
    });
  ledger.close();
  return plans;
}

describe('the SQLite ledger’s reports over the hourly rollups', () => {
  it('rolls events up by the hour they were served, with money from counted events only, by any dimension', () => {
    const nextHour = T0_HOUR + HOUR_MS;
    ledger.record([
      event({ priceMicros: 1_000_000 }),
      event({ priceMicros: 2_000_000, dims: { ...event().dims, seat: 'other' } }),
      event({ servedHourMs: nextHour, outcome: invalidTraffic('head_request') }),
    ]);
    const query = { accountId: 1, fromMs: T0_HOUR - HOUR_MS, toMs: T0_HOUR + 3 * HOUR_MS, filters: {} };
    assert.deepEqual(ledger.report({ ...query, groupBy: ['hour', 'outcome'] }), [
      {
        hour: new Date(T0_HOUR).toISOString(),
        outcome: 'counted',
        events: 2,
        priceMicros: 3_000_000,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
      {
        hour: new Date(nextHour).toISOString(),
        outcome: 'not_counted',
        events: 1,
        priceMicros: 0,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
    ]);
    assert.equal(ledger.report({ ...query, groupBy: [], filters: { seat: 'other' } })[0]?.events, 1);
    assert.deepEqual(
      ledger.report({ ...query, accountId: 2, groupBy: [] }),
      [],
      'another account sees nothing',
    );
  });

  it('keeps each currency’s money apart in the rollups: no report adds EUR to USD unless asked to', () => {
    const path = join(dir, 'currencies.db');
    const own = new SqliteLedger(openSqlite(path));
    const inCurrency = (currency: string, priceMicros: number) =>
      event({ priceMicros, dims: { ...event().dims, currency } });
    own.record([inCurrency('USD', 300_000_000), inCurrency('EUR', 2_000_000), inCurrency('EUR', 1_000_000)]);
    own.record([
      event({ dims: { ...event().dims, currency: 'EUR' }, outcome: invalidTraffic('head_request') }),
    ]);
    assert.deepEqual(byOutcomeAndCurrency(own), [
      ['counted', 'EUR', 2, 3_000_000],
      ['counted', 'USD', 1, 300_000_000],
      ['not_counted', '', 1, 0],
    ]);
    const eur = own.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { currency: 'EUR' } });
    assert.equal(eur[0]?.priceMicros, 3_000_000);
    own.close();
  });

  it('refuses a report whose sum passes 2^53 − 1 micros instead of answering it a few micros off, while its rows by day still add up exactly', () => {
    // priceMicros adds up CPMs: 10^16 micros is a year of a few million impressions a day.
    const prices = [4_000_000_000_000_000, 4_000_000_000_000_000, 2_000_000_000_000_001];
    ledger.record(
      prices.map((priceMicros, index) => event({ priceMicros, servedHourMs: T0_HOUR + index * 86_400_000 })),
    );
    const year = { accountId: 1, fromMs: T0_HOUR, toMs: T0_HOUR + 300 * 86_400_000, filters: {} };
    const byDay = ledger.report({ ...year, groupBy: ['day'] });
    assert.deepEqual(
      byDay.map((row) => row.priceMicros),
      prices,
    );
    const exact = byDay.reduce((sum, row) => sum + BigInt(row.priceMicros), 0n);
    assert.equal(exact, 10_000_000_000_000_001n);
    assert.throws(
      () => ledger.report({ ...year, groupBy: [] }),
      (error: unknown) =>
        error instanceof ReportTooLargeError &&
        /priceMicros add up to 10000000000000001,/.test(error.message) &&
        /narrow from and to/.test(error.message),
    );
    assert.equal(
      ledger.report({ ...year, groupBy: [], filters: { seat: 'seat' }, fromMs: T0_HOUR + 86_400_000 })[0]
        ?.priceMicros,
      6_000_000_000_000_001,
    );
    // Asked for exact sums (CSV), the total comes as a bigint; the sums a number holds stay numbers.
    assert.deepEqual(ledger.report({ ...year, groupBy: [], exactSums: true }), [
      {
        events: 3,
        priceMicros: 10_000_000_000_000_001n,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
    ]);
  });

  it('refuses, rather than failing as if a retry could help, a report whose sum passes SQLite’s 64-bit integers', () => {
    // Three hours of 700 impressions at 4.5 billion a thousand (a price a win takes): each hour's rollup row holds
    // its sum (3.15e18 micros), the three hours' (9.45e18) pass 2^63 − 1.
    const priceMicros = 4_500_000_000_000_000;
    for (let hour = 0; hour < 3; hour++) {
      ledger.record(
        Array.from({ length: 700 }, () => event({ priceMicros, servedHourMs: T0_HOUR + hour * HOUR_MS })),
      );
    }
    const window = { accountId: 1, fromMs: T0_HOUR, toMs: T0_HOUR + 3 * HOUR_MS, filters: {} };
    assert.throws(
      () => ledger.report({ ...window, groupBy: [] }),
      (error: unknown) =>
        error instanceof ReportTooLargeError &&
        /the report's sums pass 2\^63 - 1/.test(error.message) &&
        /narrow from and to/.test(error.message),
    );
    // Narrowed to one hour it is answered, or refused for its own size: never failed.
    assert.throws(
      () => ledger.report({ ...window, toMs: T0_HOUR + HOUR_MS, groupBy: [] }),
      (error: unknown) =>
        error instanceof ReportTooLargeError && /add up to 3150000000000000000,/.test(error.message),
    );
    assert.equal(
      ledger.report({ ...window, groupBy: ['hour'], filters: { outcome: 'not_counted' } }).length,
      0,
    );
  });

  it('stops an hourly rollup amount at 2^63 − 1 micros rather than let it turn inexact, and refuses reports over that hour, CSV too', () => {
    // 2100 impressions at 4.5 billion a thousand in one hour: 9.45e18 micros, past 2^63 − 1.
    const priceMicros = 4_500_000_000_000_000;
    for (let batch = 0; batch < 3; batch++)
      ledger.record(Array.from({ length: 700 }, () => event({ priceMicros, mediaCostMicros: 1 })));
    ledger.record([event({ priceMicros: 1, servedHourMs: T0_HOUR + HOUR_MS })]);
    const window = { accountId: 1, fromMs: T0_HOUR, toMs: T0_HOUR + 2 * HOUR_MS, filters: {} };
    for (const exactSums of [false, true]) {
      assert.throws(
        () => ledger.report({ ...window, toMs: T0_HOUR + HOUR_MS, groupBy: [], exactSums }),
        (error: unknown) =>
          error instanceof ReportTooLargeError &&
          /priceMicros include an hour whose sum reached 2\^63 - 1 micros/.test(error.message) &&
          /group by hour to find it/.test(error.message),
      );
    }
    // The hour's amounts stay integers, the one that reached the limit held there.
    assert.deepEqual(
      ledgers.db
        .prepare(
          'SELECT typeof(price_micros), price_micros, media_cost_micros FROM rollup_hourly ORDER BY hour_ms',
        )
        .safeIntegers(true)
        .raw()
        .all(),
      [
        ['integer', 9_223_372_036_854_775_807n, 2100n],
        ['integer', 1n, 0n],
      ],
    );
    // The hour after it is reported as ever.
    assert.equal(ledger.report({ ...window, fromMs: T0_HOUR + HOUR_MS, groupBy: [] })[0]?.priceMicros, 1);
  });

  it('reads one account’s rollups over a range of hours as one range of the table’s (account, hour) key, not every account’s rows of those hours', () => {
    const path = join(dir, 'rollup-plan.db');
    openSqlite(path).close();
    const db = new Database(path, { readonly: true });
    const plan = (
      db
        .prepare(
          'EXPLAIN QUERY PLAN SELECT SUM(events) FROM rollup_hourly WHERE account_id = ? AND hour_ms >= ? AND hour_ms < ?',
        )
        .all(2, T0, T0 + HOUR_MS) as { detail: string }[]
    )
      .map((step) => step.detail)
      .join('; ');
    db.close();
    assert.equal(plan, 'SEARCH rollup_hourly USING PRIMARY KEY (account_id=? AND hour_ms>? AND hour_ms<?)');
  });

  it('reads a report over 400 days, by any dimension, filtered, scoped or in a time zone, as one range of the rollups’ (account, hour) key alone', () => {
    const plans = rollupReadPlans('report-plan', (planned) => {
      const window = { accountId: 1, fromMs: T0_HOUR - 400 * 24 * HOUR_MS, toMs: T0_HOUR, filters: {} };
      for (const dimension of REPORT_DIMENSIONS) planned.report({ ...window, groupBy: [dimension] });
      planned.report({ ...window, groupBy: ['day'], timeZone: 'America/New_York' });
      planned.report({
        ...window,
        groupBy: ['seat'],
        filters: {
          publisherId: '3',
          day: new Date(T0_HOUR - 24 * HOUR_MS - (T0_HOUR % (24 * HOUR_MS))).toISOString(),
        },
      });
      planned.report({ ...window, groupBy: ['hour'], publisherScope: { catalogId: '3', externalId: 'pub' } });
    }).map((plan) =>
      plan
        .map((step) => step.detail)
        .filter((detail) => /\b(rollup_hourly|event_rows|event_dims|events)\b/.test(detail))
        .join('; '),
    );
    assert.equal(plans.length, REPORT_DIMENSIONS.length + 3);
    assert.deepEqual(
      plans.filter(
        (plan) => !/^SEARCH rollup_hourly USING PRIMARY KEY \(account_id=\? AND hour_ms[^;]*\)$/.test(plan),
      ),
      [],
    );
  });

  it('adds a report by day up from the rollups summed by the hour in the order of their (account, hour) key, sorting only those sums, in UTC and in a time zone', () => {
    const window = { accountId: 1, fromMs: T0_HOUR - 90 * 24 * HOUR_MS, toMs: T0_HOUR, filters: {} };
    const plans = rollupReadPlans('day-plan', (planned) => {
      planned.report({ ...window, groupBy: ['day'] });
      planned.report({ ...window, groupBy: ['day'], timeZone: 'America/New_York' });
    });
    // Each step beside the one that reads the rollups: what is done to every rollup row read.
    const perRollupRow = plans.map((plan) => {
      const read = plan.find((step) => step.detail.startsWith('SEARCH rollup_hourly'));
      return plan.filter((step) => step.parent === read?.parent).map((step) => step.detail);
    });
    const byHour = [
      'SEARCH rollup_hourly USING PRIMARY KEY (account_id=? AND hour_ms>? AND hour_ms<?)',
      'USE TEMP B-TREE FOR group_concat(DISTINCT)',
    ];
    assert.deepEqual(perRollupRow, [byHour, byHour]);
  });

  it('refuses a report by day whose hours of one day are each in one currency, not all in the same, naming every currency', () => {
    const dayStart = T0_HOUR - (T0_HOUR % (24 * HOUR_MS));
    const inHour = (hour: number, currency: string) =>
      event({ servedHourMs: dayStart + hour * HOUR_MS, dims: { ...event().dims, currency } });
    ledger.record([inHour(1, 'USD'), inHour(2, 'EUR'), inHour(3, 'GBP'), inHour(4, 'USD')]);
    const day = { accountId: 1, fromMs: dayStart, toMs: dayStart + 24 * HOUR_MS, filters: {} };
    assert.throws(
      () => ledger.report({ ...day, groupBy: ['day'] }),
      /amounts are in EUR, GBP, USD: group by currency/,
    );
    assert.deepEqual(
      ledger
        .report({ ...day, groupBy: ['day', 'currency'] })
        .map((row) => [row.day, row.currency, row.events]),
      [
        [new Date(dayStart).toISOString(), 'EUR', 1],
        [new Date(dayStart).toISOString(), 'GBP', 1],
        [new Date(dayStart).toISOString(), 'USD', 2],
      ],
    );
  });

  it('reports invalid traffic by the rule that matched it, and no rule on the other rows', () => {
    ledger.record([
      event({ outcome: invalidTraffic('bot_user_agent') }),
      event({ outcome: invalidTraffic('bot_user_agent') }),
      event({ outcome: invalidTraffic('head_request') }),
      event(),
    ]);
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['reason', 'ivtRule'] })
        .map((row) => [row.reason, row.ivtRule, row.events]),
      [
        ['', '', 1],
        ['invalid_traffic', 'bot_user_agent', 2],
        ['invalid_traffic', 'head_request', 1],
      ],
    );
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: [], filters: { ivtRule: 'head_request' } })
        .map((row) => row.events),
      [1],
    );
  });

  it('reports VAST error notices by their code, no code on the other rows, through the rollups that pruning leaves', () => {
    const vastError = (code: number | null, receivedMs = T0) =>
      event({
        receivedMs,
        outcome: notCounted('not_billing_method'),
        dims: { ...event().dims, kind: 'vast_error', method: 'vast', vastError: code },
      });
    // Notices that differ in their code alone, one after the other in a batch, and in two batches.
    ledger.record([vastError(303), vastError(402), vastError(303), vastError(null)]);
    const impression = (receivedMs: number) => event({ receivedMs, dims: { ...event().dims, kind: 'vast' } });
    ledger.record([vastError(402), impression(T0 + 1)]);
    const byCode = { ...HOUR_AROUND_T0, groupBy: ['notice', 'vastError'] as const };
    const expected = [
      ['vast', '', 1],
      ['vast_error', '', 1],
      ['vast_error', 303, 2],
      ['vast_error', 402, 2],
    ];
    const rows = () => ledger.report(byCode).map((row) => [row.notice, row.vastError, row.events]);
    assert.deepEqual(rows(), expected);
    const filtered = (vastError: string) =>
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['notice'], filters: { vastError } })
        .map((row) => [row.notice, row.events]);
    assert.deepEqual(filtered('303'), [['vast_error', 2]]);
    assert.deepEqual(filtered(''), [
      ['vast', 1],
      ['vast_error', 1],
    ]);
    assert.deepEqual(filtered('900'), []);
    const reader = new Database(ledgers.path, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT kind, vast_error FROM events ORDER BY id').raw().all(), [
      ['vast_error', 303],
      ['vast_error', 402],
      ['vast_error', 303],
      ['vast_error', null],
      ['vast_error', 402],
      ['vast', null],
    ]);
    reader.close();
    // The raw VAST error notices, which never count, go at the retention; their codes stay reported.
    ledger.record([impression(T0 + HOUR_MS)]);
    assert.equal(ledger.prune(T0 + HOUR_MS, 100).events, 5);
    assert.deepEqual(rows(), [['vast', '', 2], ...expected.slice(1)]);
  });

  it('reports by UTC day: the hours of one day add into one row, named by its midnight, and filter by it', () => {
    const dayStart = T0_HOUR - (T0_HOUR % 86_400_000);
    ledger.record([
      event({ servedHourMs: dayStart }),
      event({ servedHourMs: dayStart + 23 * HOUR_MS }),
      event({ servedHourMs: dayStart + 24 * HOUR_MS }),
    ]);
    const query = { accountId: 1, fromMs: dayStart, toMs: dayStart + 2 * 86_400_000, filters: {} };
    assert.deepEqual(
      ledger.report({ ...query, groupBy: ['day'] }).map((row) => [row.day, row.events]),
      [
        [new Date(dayStart).toISOString(), 2],
        [new Date(dayStart + 86_400_000).toISOString(), 1],
      ],
    );
    const secondDay = new Date(dayStart + 86_400_000).toISOString();
    assert.equal(ledger.report({ ...query, groupBy: [], filters: { day: secondDay } })[0]?.events, 1);
  });

  it('reports profit as revenue less media cost', () => {
    ledger.record([
      event({ mediaCostMicros: 200_000, revenueMicros: 500_000 }),
      event({ mediaCostMicros: 300_000, revenueMicros: 100_000, dims: { ...event().dims, seat: 'loss' } }),
    ]);
    const rows = ledger.report({ ...HOUR_AROUND_T0, groupBy: ['seat'] });
    assert.deepEqual(
      rows.map((row) => [row.seat, row.mediaCostMicros, row.revenueMicros, row.profitMicros]),
      [
        ['loss', 300_000, 100_000, -200_000],
        ['seat', 200_000, 500_000, 300_000],
      ],
    );
  });

  it('neither adds up an amount the caller is not shown nor a profit made of it: each comes as 0', () => {
    ledger.record([event({ mediaCostMicros: 200_000, revenueMicros: 500_000 })]);
    const amounts = (hiddenAmounts: ReportAmount[]) =>
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: [], hiddenAmounts })
        .map((row) => [row.priceMicros, row.mediaCostMicros, row.revenueMicros, row.profitMicros]);
    assert.deepEqual(amounts([]), [[1_000_000, 200_000, 500_000, 300_000]]);
    assert.deepEqual(amounts(['mediaCostMicros']), [[1_000_000, 0, 500_000, 0]]);
    assert.deepEqual(amounts(['revenueMicros']), [[1_000_000, 200_000, 0, 0]]);
  });

  /** A publisher of the test events' account (id 1, created first), in the ledger's database. */
  function catalogPublisher(name: string, externalId: string | null): string {
    const db = openSqlite(ledgers.path);
    const accounts = new SqliteAccountStore(db);
    if (accounts.getAccount(1) === undefined) assert.equal(accounts.createAccount('Operator', T0).id, 1);
    const created = new SqliteCatalogStore(db).publishers.create(1, { name, externalId }, T0);
    if (!created.ok) assert.fail(JSON.stringify(created));
    return String(created.value.id);
  }

  it('shows a publisher-scoped report its tracker rows by catalog id and its exchange rows by OpenRTB id, no others', () => {
    const own = catalogPublisher('Own', 'ortb-pub');
    const dims = event().dims;
    ledger.record([
      event({ dims: { ...dims, publisher: 'ortb-pub' } }),
      event({ dims: { ...dims, publisher: own, impressionType: 'external_impression' } }),
      // The same values on the other impression type: another publisher's rows.
      event({ dims: { ...dims, publisher: own } }),
      event({ dims: { ...dims, publisher: 'ortb-pub', impressionType: 'external_impression' } }),
    ]);
    const rows = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['impressionType', 'publisherId'],
      publisherScope: { catalogId: own, externalId: 'ortb-pub' },
    });
    assert.deepEqual(
      rows.map((row) => [row.impressionType, row.publisherId, row.events]),
      [
        ['exchange', Number(own), 1],
        ['external_impression', Number(own), 1],
      ],
    );
  });

  it('reports publisher as the OpenRTB publisher id and publisherId as the catalog publisher, on exchange and tracker rows alike', () => {
    const mapped = catalogPublisher('Mapped', 'ortb-pub');
    const unmapped = catalogPublisher('Unmapped', null);
    const dims = event().dims;
    const tracker = { ...dims, impressionType: 'external_impression' as const };
    ledger.record([
      event({ dims: { ...dims, publisher: 'ortb-pub' } }),
      // An OpenRTB publisher id no catalog publisher has, which looks like a catalog id.
      event({ dims: { ...dims, publisher: mapped } }),
      event({ dims: { ...tracker, publisher: mapped } }),
      event({ dims: { ...tracker, publisher: unmapped } }),
    ]);
    const rows = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['impressionType', 'publisher', 'publisherId'],
    });
    assert.deepEqual(
      rows.map((row) => [row.impressionType, row.publisher, row.publisherId, row.events]),
      [
        ['exchange', mapped, 0, 1],
        ['exchange', 'ortb-pub', Number(mapped), 1],
        ['external_impression', '', Number(unmapped), 1],
        ['external_impression', 'ortb-pub', Number(mapped), 1],
      ],
    );
    // Grouped by publisher alone, the rows of one OpenRTB id are one row, whatever their kind.
    const byPublisher = ledger.report({ ...HOUR_AROUND_T0, groupBy: ['publisher'] });
    assert.deepEqual(
      byPublisher.map((row) => [row.publisher, row.events]),
      [
        ['', 1],
        [mapped, 1],
        ['ortb-pub', 2],
      ],
    );
    // One publisher's traffic of both kinds, by either id; never another publisher's.
    const byCatalog = ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { publisherId: mapped } });
    const byOpenRtb = ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { publisher: 'ortb-pub' } });
    assert.equal(byCatalog[0]?.events, 2);
    assert.equal(byOpenRtb[0]?.events, 2);
  });

  it('filters and shows the cachebusterMissing flag as the API writes it', () => {
    const dims = event().dims;
    ledger.record([event({ dims: { ...dims, cachebusterMissing: true } }), event(), event()]);
    const flagged = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['cachebusterMissing'],
      filters: { cachebusterMissing: 'true' },
    });
    assert.deepEqual(
      flagged.map((row) => [row.cachebusterMissing, row.events]),
      [[true, 1]],
    );
    const unflagged = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['cachebusterMissing'],
      filters: { cachebusterMissing: 'false' },
    });
    assert.deepEqual(
      unflagged.map((row) => [row.cachebusterMissing, row.events]),
      [[false, 2]],
    );
  });

  it('groups and filters each dimension by its own column, and keeps apart rollups that differ in one dimension alone or in their account', () => {
    const dims = event().dims;
    /** [dimension, an event differing from the base events in it alone, its value in a report, as a filter]. */
    const variants: [ReportDimension, Partial<EventRecord>, string | number | boolean, string][] = [
      ['reason', { outcome: notCounted('late') }, 'late', 'late'],
      ['reason', { outcome: invalidTraffic('bot_user_agent') }, 'invalid_traffic', 'invalid_traffic'],
      [
        'impressionType',
        { dims: { ...dims, impressionType: 'external_impression' } },
        'external_impression',
        'external_impression',
      ],
      ['format', { dims: { ...dims, format: 'video' } }, 'video', 'video'],
      ['channel', { dims: { ...dims, channel: 'app' } }, 'app', 'app'],
      ['method', { dims: { ...dims, method: 'burl' } }, 'burl', 'burl'],
      // A player's VAST impression on a win counted by its adm: its notice, not its method.
      ['notice', { dims: { ...dims, kind: 'vast' } }, 'vast', 'vast'],
      ['seat', { dims: { ...dims, seat: 's2' } }, 's2', 's2'],
      ['advertiser', { dims: { ...dims, advertiserId: 3 } }, 3, '3'],
      ['lineItem', { dims: { ...dims, lineItemId: 4 } }, 4, '4'],
      ['tracker', { dims: { ...dims, trackerId: 5 } }, 5, '5'],
      ['placement', { dims: { ...dims, placementId: 6 } }, 6, '6'],
      ['paymentRule', { dims: { ...dims, paymentRuleId: 7 } }, 7, '7'],
      ['cachebusterMissing', { dims: { ...dims, cachebusterMissing: true } }, true, 'true'],
      // Free, so that no report grouped by another dimension adds up amounts in two currencies.
      ['currency', { dims: { ...dims, currency: 'EUR' }, priceMicros: 0 }, 'EUR', 'EUR'],
    ];
    ledger.record([
      event(),
      event(),
      ...variants.map(([, overrides]) => event(overrides)),
      event({ dims: { ...dims, accountId: 2 } }),
    ]);
    for (const [dimension, , value, filter] of variants) {
      const only = ledger.report({
        ...HOUR_AROUND_T0,
        groupBy: [dimension],
        filters: { [dimension]: filter },
      });
      assert.deepEqual(
        only.map((row) => [row[dimension], row.events]),
        [[value, 1]],
        dimension,
      );
      const grouped = ledger.report({ ...HOUR_AROUND_T0, groupBy: [dimension] });
      // The events that did not count are a currency of their own: none.
      const apart =
        variants.filter(([other]) => other === dimension).length + (dimension === 'currency' ? 1 : 0);
      assert.equal(grouped.length, 1 + apart, dimension);
      assert.equal(
        grouped.reduce((sum, row) => sum + Number(row.events), 0),
        2 + variants.length,
        dimension,
      );
    }
    assert.deepEqual(
      ledger.report({ ...HOUR_AROUND_T0, accountId: 2, groupBy: [] }).map((row) => row.events),
      [1],
      'the other account’s event, in its own rollup',
    );
  });

  it('refuses a report whose amounts are in two currencies, or a currency and tracker units, in one row or in different rows, unless it groups by or filters on currency', () => {
    const usd = exchangeEvent();
    const eur = exchangeEvent({ dims: { ...usd.dims, currency: 'EUR' } });
    const notCounted = exchangeEvent({
      outcome: { outcome: 'not_counted', reason: 'late' },
      dims: { ...usd.dims, currency: 'GBP' },
    });
    const trackerUnits = exchangeEvent({ dims: { ...usd.dims, currency: '' } });
    ledger.record([usd, notCounted]);
    // Events that did not count carry no money: nothing to mix.
    assert.deepEqual(
      ledger.report({ ...HOUR_AROUND_T0, groupBy: [] }).map((row) => [row.events, row.priceMicros]),
      [[2, 1_000_000]],
    );
    ledger.record([eur, trackerUnits]);
    assert.throws(
      () => ledger.report({ ...HOUR_AROUND_T0, groupBy: ['seat'] }),
      (error: unknown) =>
        error instanceof MixedCurrenciesError &&
        error.code === 'MIXED_CURRENCIES' &&
        /amounts are in .*EUR.*: group by currency/.test(error.message) &&
        /trackers' unnamed units.*, or report one kind of event \(impressionType=external_impression/.test(
          error.message,
        ),
    );
    // In another account, each row in one currency, but not all in the same: refused too, unless
    // narrowed to one.
    const jpy = { ...usd.dims, accountId: 3, seat: 'jpy-seat', currency: 'JPY' };
    const eurSeat = { ...usd.dims, accountId: 3, seat: 'eur-seat', currency: 'EUR' };
    ledger.record([exchangeEvent({ dims: jpy }), exchangeEvent({ dims: eurSeat })]);
    const bySeat = { ...HOUR_AROUND_T0, accountId: 3, groupBy: ['seat'] as ReportDimension[] };
    assert.throws(
      () => ledger.report(bySeat),
      /amounts are in EUR, JPY: group by currency.*\(currency=USD\)$/,
    );
    assert.deepEqual(
      ledger.report({ ...bySeat, filters: { seat: 'jpy-seat' } }).map((row) => [row.seat, row.events]),
      [['jpy-seat', 1]],
    );
    assert.deepEqual(
      ledger.report({ ...HOUR_AROUND_T0, groupBy: ['currency'] }).map((row) => [row.currency, row.events]),
      [
        ['', 2],
        ['EUR', 1],
        ['USD', 1],
      ],
    );
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['seat'], filters: { currency: 'EUR' } })
        .map((row) => [row.seat, row.priceMicros]),
      [['seat', 1_000_000]],
    );
  });

  it('answers a sum of exactly 2^53 − 1 micros, and a loss of as much, and refuses a sum of 2^53, whichever amount it is', () => {
    const fields = ['priceMicros', 'mediaCostMicros', 'revenueMicros'] as const;
    for (const field of fields) {
      const dims = { ...event().dims, seat: field };
      const at = (servedHourMs: number, micros: number) =>
        event({ servedHourMs, dims, priceMicros: 0, [field]: micros });
      ledger.record([at(T0_HOUR, 2 ** 52), at(T0_HOUR, 2 ** 52 - 1), at(T0_HOUR + HOUR_MS, 1)]);
    }
    for (const field of fields) {
      const query = { accountId: 1, groupBy: [], filters: { seat: field }, fromMs: T0_HOUR };
      const [row] = ledger.report({ ...query, toMs: T0_HOUR + HOUR_MS });
      assert.equal(row?.[field], Number.MAX_SAFE_INTEGER, field);
      if (field === 'mediaCostMicros') assert.equal(row?.profitMicros, Number.MIN_SAFE_INTEGER);
      assert.throws(
        () => ledger.report({ ...query, toMs: T0_HOUR + 2 * HOUR_MS }),
        (error: unknown) =>
          error instanceof ReportTooLargeError &&
          error.message.includes(`${field} add up to 9007199254740992,`),
        field,
      );
    }
  });

  it('fails a report the database cannot run (its table is gone) as a failure, not as a report too large to answer', () => {
    const path = join(dir, 'no-rollups.db');
    const own = new SqliteLedger(openSqlite(path));
    const other = new Database(path);
    other.exec('DROP TABLE rollup_hourly');
    other.close();
    assert.throws(
      () => own.report({ ...HOUR_AROUND_T0, groupBy: [] }),
      (error: unknown) =>
        !(error instanceof ReportTooLargeError) && /no such table: rollup_hourly/.test(String(error)),
    );
    own.close();
  });

  it('refuses an hour filter without its Z, which Date.parse would read in the server’s time zone', () => {
    ledger.record([event()]);
    const hour = new Date(T0_HOUR).toISOString();
    assert.equal(ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { hour } })[0]?.events, 1);
    assert.throws(
      () => ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { hour: hour.slice(0, -1) } }),
      /expected a UTC time as toISOString writes it/,
    );
  });

  it('looks the catalog publisher of an exchange row up in the row’s own account, never in another account with the same OpenRTB id', () => {
    const db = openSqlite(ledgers.path);
    const accounts = new SqliteAccountStore(db);
    assert.equal(accounts.createAccount('Operator', T0).id, 1);
    assert.equal(accounts.createAccount('Other', T0).id, 2);
    const created = new SqliteCatalogStore(db).publishers.create(
      2,
      { name: 'Theirs', externalId: 'shared' },
      T0,
    );
    if (!created.ok) assert.fail(JSON.stringify(created));
    db.close();
    ledger.record([event({ dims: { ...event().dims, publisher: 'shared' } })]);
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['publisherId'] })
        .map((row) => [row.publisherId, row.events]),
      [[0, 1]],
    );
    const theirs = String(created.value.id);
    assert.deepEqual(ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { publisherId: theirs } }), []);
  });

  it('shows a publisher without an OpenRTB id none of the exchange rows, not those whose publisher id is empty', () => {
    const own = catalogPublisher('No OpenRTB id', null);
    const dims = event().dims;
    ledger.record([
      event({ dims: { ...dims, publisher: '' } }),
      event({ dims: { ...dims, publisher: own, impressionType: 'external_impression' } }),
    ]);
    const rows = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['impressionType'],
      publisherScope: { catalogId: own, externalId: null },
    });
    assert.deepEqual(
      rows.map((row) => [row.impressionType, row.events]),
      [['external_impression', 1]],
    );
  });
});
