import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notCounted } from '../../domain/outcome.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { ledgerPerTest } from '../../../test/support/sqlite-ledgers.js';
import type { BillingRecordQuery, EventRecord } from '../../ports/ledger.js';
import { EMPTY_DIMENSIONS } from '../../ports/ledger.js';
import { billingRecordsSql, MAX_SCANNED_IDS } from './billing-records.js';
import type { SqliteLedger } from './ledger.js';
import { SqliteAccountStore } from './accounts.js';
import { SqliteCatalogStore } from './catalog.js';

let ledger: SqliteLedger;
const ledgers = ledgerPerTest('tally-billing-records-', (opened) => (ledger = opened));

/** A counted impression of auction `auctionId` received `minutes` after `T0`. */
function impression(auctionId: string, minutes = 0, overrides: Partial<EventRecord> = {}): EventRecord {
  const base = exchangeEvent();
  return exchangeEvent({
    receivedMs: T0 + minutes * 60_000,
    dims: { ...base.dims, auctionId },
    dedupe: { key: `k-${auctionId}`, expiresMs: T0 + 86_400_000 },
    ...overrides,
  });
}

/** Every record `query` reads, page after page, and how many pages that took. */
function readAll(query: Omit<BillingRecordQuery, 'afterId'>): { auctionIds: string[]; pages: number } {
  const auctionIds: string[] = [];
  let afterId: number | undefined;
  let pages = 0;
  for (;;) {
    const page = ledger.listBillingRecords({ ...query, afterId });
    pages++;
    auctionIds.push(...page.records.map((record) => record.auctionId ?? `tracker ${record.trackerId}`));
    if (page.nextAfterId === null) return { auctionIds, pages };
    assert.ok(afterId === undefined || page.nextAfterId > afterId, 'each page moves on');
    afterId = page.nextAfterId;
  }
}

describe('billing records', () => {
  it('lists one record per counted impression, oldest first, with what it was billed, and none of what did not count or is another account’s', () => {
    ledger.record([
      impression('a1', 0, { priceMicros: 2_500_000 }),
      impression('a1', 1),
      impression('a2', 2, { outcome: notCounted('late') }),
      impression('a3', 3, { dims: { ...exchangeEvent().dims, accountId: 2, auctionId: 'a3' } }),
      impression('a4', 4),
    ]);
    const page = ledger.listBillingRecords({ accountId: 1, limit: 10 });
    assert.equal(page.nextAfterId, null);
    assert.deepEqual(
      page.records.map((record) => [record.auctionId, record.countedMs]),
      [
        ['a1', T0],
        ['a4', T0 + 4 * 60_000],
      ],
    );
    assert.deepEqual(
      { ...page.records[0], id: 0 },
      {
        id: 0,
        countedMs: T0,
        servedHourMs: T0 - (T0 % 3_600_000),
        impressionType: 'exchange',
        notice: 'adm',
        method: 'adm',
        format: 'banner',
        channel: 'web',
        auctionId: 'a1',
        impId: '1',
        bidId: 'b',
        seat: 'seat',
        publisher: 'pub',
        currency: 'USD',
        priceMicros: 2_500_000,
        deliveryStatus: null,
        trackerId: null,
        advertiserId: null,
        lineItemId: null,
        publisherId: 0,
        placementId: null,
        paymentRuleId: null,
        mediaCostMicros: null,
        revenueMicros: null,
      },
    );
  });

  it('gives an impression whose request named no publisher.id a publisher of null, not an empty id', () => {
    ledger.record([
      impression('no-publisher', 0, {
        dims: { ...exchangeEvent().dims, auctionId: 'no-publisher', publisher: '' },
      }),
    ]);
    const [record] = ledger.listBillingRecords({ accountId: 1, limit: 10 }).records;
    assert.equal(record?.auctionId, 'no-publisher');
    assert.equal(record?.publisher, null);
  });

  it('gives a tracker’s hit the catalog objects and money it was priced by, and no exchange fields', () => {
    ledger.record([
      {
        ...exchangeEvent({ mediaCostMicros: 1_000, revenueMicros: 2_000, priceMicros: 0 }),
        dims: {
          ...EMPTY_DIMENSIONS,
          accountId: 1,
          impressionType: 'external_impression',
          publisher: '7',
          advertiserId: 3,
          lineItemId: 4,
          trackerId: 5,
          placementId: 0,
          paymentRuleId: 9,
        },
      },
    ]);
    const [record] = ledger.listBillingRecords({ accountId: 1, limit: 10 }).records;
    assert.deepEqual(
      { ...record, id: 0 },
      {
        id: 0,
        countedMs: T0,
        servedHourMs: T0 - (T0 % 3_600_000),
        impressionType: 'external_impression',
        notice: null,
        method: null,
        format: null,
        channel: null,
        auctionId: null,
        impId: null,
        bidId: null,
        seat: null,
        publisher: null,
        currency: null,
        priceMicros: null,
        deliveryStatus: null,
        trackerId: 5,
        advertiserId: 3,
        lineItemId: 4,
        publisherId: 7,
        placementId: 0,
        paymentRuleId: 9,
        mediaCostMicros: 1_000,
        revenueMicros: 2_000,
      },
    );
  });

  /** A catalog publisher of the records' account (id 1), in the ledger's database: its id, as rows hold it. */
  function catalogPublisher(name: string, externalId: string | null): string {
    const db = ledgers.db;
    const accounts = new SqliteAccountStore(db);
    if (accounts.getAccount(1) === undefined) assert.equal(accounts.createAccount('Operator', T0).id, 1);
    const created = new SqliteCatalogStore(db).publishers.create(1, { name, externalId }, T0);
    if (!created.ok) assert.fail(JSON.stringify(created));
    return String(created.value.id);
  }

  it('gives each record the OpenRTB and the catalog publisher a report gives its row, and filters on either as a report does', () => {
    const mapped = catalogPublisher('Mapped', 'ortb-pub');
    const unmapped = catalogPublisher('Unmapped', null);
    const dims = exchangeEvent().dims;
    const tracker = { ...dims, impressionType: 'external_impression' as const };
    ledger.record([
      impression('mapped', 0, { dims: { ...dims, auctionId: 'mapped', publisher: 'ortb-pub' } }),
      // An OpenRTB publisher id no catalog publisher has, which looks like a catalog id.
      impression('unknown', 1, { dims: { ...dims, auctionId: 'unknown', publisher: mapped } }),
      impression('none', 2, { dims: { ...dims, auctionId: 'none', publisher: '' } }),
      impression('t-mapped', 3, { dims: { ...tracker, auctionId: 't-mapped', publisher: mapped } }),
      impression('t-unmapped', 4, { dims: { ...tracker, auctionId: 't-unmapped', publisher: unmapped } }),
    ]);
    const publishers = (query: Partial<BillingRecordQuery> = {}) =>
      ledger
        .listBillingRecords({ accountId: 1, limit: 10, ...query })
        .records.map((record) => [record.impressionType, record.publisher, record.publisherId]);
    assert.deepEqual(publishers(), [
      ['exchange', 'ortb-pub', Number(mapped)],
      ['exchange', mapped, 0],
      ['exchange', null, 0],
      ['external_impression', 'ortb-pub', Number(mapped)],
      ['external_impression', null, Number(unmapped)],
    ]);
    const report = (groupBy: ('publisher' | 'publisherId')[]) =>
      ledger
        .report({ accountId: 1, fromMs: T0 - 3_600_000, toMs: T0 + 3_600_000, groupBy, filters: {} })
        .map((row) => [row[groupBy[0] ?? 'publisher'], row.events]);
    assert.deepEqual(report(['publisherId']), [
      [0, 2],
      [Number(mapped), 2],
      [Number(unmapped), 1],
    ]);
    assert.deepEqual(publishers({ publisherId: Number(mapped) }), [
      ['exchange', 'ortb-pub', Number(mapped)],
      ['external_impression', 'ortb-pub', Number(mapped)],
    ]);
    assert.deepEqual(publishers({ publisherId: 0 }), [
      ['exchange', mapped, 0],
      ['exchange', null, 0],
    ]);
    assert.deepEqual(publishers({ publisherId: Number(unmapped) }), [
      ['external_impression', null, Number(unmapped)],
    ]);
    assert.deepEqual(report(['publisher']), [
      ['', 2],
      [mapped, 1],
      ['ortb-pub', 2],
    ]);
    assert.deepEqual(publishers({ publisher: 'ortb-pub' }), [
      ['exchange', 'ortb-pub', Number(mapped)],
      ['external_impression', 'ortb-pub', Number(mapped)],
    ]);
    assert.deepEqual(publishers({ publisher: mapped }), [['exchange', mapped, 0]]);
  });

  it('reads a window of count times, and pages through it without losing or repeating a record', () => {
    for (let minute = 0; minute < 30; minute++) ledger.record([impression(`m${minute}`, minute)]);
    const window = { accountId: 1, countedFromMs: T0 + 10 * 60_000, countedToMs: T0 + 20 * 60_000 };
    const expected = Array.from({ length: 10 }, (_, index) => `m${index + 10}`);
    assert.deepEqual(readAll({ ...window, limit: 1000 }).auctionIds, expected);
    const paged = readAll({ ...window, limit: 3 });
    assert.deepEqual(paged.auctionIds, expected);
    assert.equal(paged.pages, 4);
  });

  it('reads a window of served hours as the hours that begin in it: back-to-back windows share no record', () => {
    const HOUR_MS = 3_600_000;
    const firstHourMs = T0 - (T0 % HOUR_MS);
    for (let hour = 0; hour < 3; hour++)
      ledger.record([impression(`h${hour}`, hour, { servedHourMs: firstHourMs + hour * HOUR_MS })]);
    const served = (fromHour: number, toHour: number) =>
      readAll({
        accountId: 1,
        servedFromMs: firstHourMs + fromHour * HOUR_MS,
        servedToMs: firstHourMs + toHour * HOUR_MS,
        limit: 10,
      }).auctionIds;
    assert.deepEqual(served(0, 1), ['h0']);
    assert.deepEqual(served(1, 2), ['h1']);
    assert.deepEqual(served(1, 3), ['h1', 'h2']);
  });

  it('finds a record written under a clock stepped back by less than ten minutes, at the start of a window', () => {
    // Ids follow the order of writing; the clock stepped back 6.5 minutes after the second row.
    for (const [name, minutes] of [
      ['m5', 5],
      ['m10.5', 10.5],
      ['m4', 4],
      ['m5b', 5],
      ['m6', 6],
      ['m7', 7],
      ['m8', 8],
      ['m9', 9],
      ['m9.5', 9.5],
      ['m10', 10],
      ['m11', 11],
    ] as const)
      ledger.record([impression(name, minutes)]);
    assert.deepEqual(readAll({ accountId: 1, countedFromMs: T0 + 10 * 60_000, limit: 10 }).auctionIds, [
      'm10.5',
      'm10',
      'm11',
    ]);
  });

  it('finds a record written under a clock stepped back, before the end of a window', () => {
    // The clock stepped back 2.5 minutes after the fifth row.
    for (const [name, minutes] of [
      ['m0', 0],
      ['m1', 1],
      ['m10.5', 10.5],
      ['m11', 11],
      ['m12', 12],
      ['m9.5', 9.5],
      ['m13', 13],
    ] as const)
      ledger.record([impression(name, minutes)]);
    assert.deepEqual(readAll({ accountId: 1, countedToMs: T0 + 10 * 60_000, limit: 10 }).auctionIds, [
      'm0',
      'm1',
      'm9.5',
    ]);
  });

  it('tells where each impression’s burl delivery stands, and null for one without a delivery', () => {
    ledger.record([
      impression('with-burl', 0, { delivery: { url: 'https://dsp.example/b', deadlineMs: T0 + 3_600_000 } }),
      impression('no-burl', 1),
    ]);
    const statuses = () =>
      ledger.listBillingRecords({ accountId: 1, limit: 10 }).records.map((record) => record.deliveryStatus);
    assert.deepEqual(statuses(), ['pending', null]);
    const [delivery] = ledger.listDeliveries(1, 'pending', 10);
    ledger.markDelivered(delivery?.id ?? 0, T0 + 1000);
    assert.deepEqual(statuses(), ['delivered', null]);
  });

  it('filters on the seat and the kind of event', () => {
    const other = { ...exchangeEvent().dims, seat: 'other-seat', auctionId: 'o1' };
    ledger.record([impression('s1'), impression('o1', 1, { dims: other }), impression('s2', 2)]);
    assert.deepEqual(readAll({ accountId: 1, seat: 'other-seat', limit: 10 }).auctionIds, ['o1']);
    assert.deepEqual(readAll({ accountId: 1, impressionType: 'external_click', limit: 10 }).auctionIds, []);
    assert.deepEqual(readAll({ accountId: 1, impressionType: 'exchange', limit: 10 }).auctionIds, [
      's1',
      'o1',
      's2',
    ]);
  });

  it('filters on the auction: its impressions’ records alone, page after page, with the other filters', () => {
    const other = { ...exchangeEvent().dims, seat: 'other-seat' };
    const secondImp = (minutes: number) =>
      impression('x', minutes, {
        dims: { ...other, auctionId: 'x', impId: '2' },
        dedupe: { key: 'k-x-2', expiresMs: T0 + 86_400_000 },
      });
    ledger.record([
      impression('x'),
      impression('x1', 1),
      impression('xx', 2),
      secondImp(3),
      impression('X', 4),
      impression('x', 5, { dims: { ...exchangeEvent().dims, accountId: 2, auctionId: 'x' } }),
    ]);
    assert.deepEqual(readAll({ accountId: 1, auctionId: 'x', limit: 10 }), {
      auctionIds: ['x', 'x'],
      pages: 1,
    });
    assert.deepEqual(readAll({ accountId: 1, auctionId: 'x', limit: 1 }), {
      auctionIds: ['x', 'x'],
      pages: 2,
    });
    assert.deepEqual(readAll({ accountId: 1, auctionId: 'x', seat: 'other-seat', limit: 10 }).auctionIds, [
      'x',
    ]);
    assert.deepEqual(
      readAll({ accountId: 1, auctionId: 'x', countedFromMs: T0 + 60_000, limit: 10 }).auctionIds,
      ['x'],
    );
    assert.deepEqual(
      readAll({ accountId: 1, auctionId: 'x', impressionType: 'external_impression', limit: 10 }).auctionIds,
      [],
    );
    assert.deepEqual(
      readAll({ accountId: 1, auctionId: 'x', impressionType: 'exchange', seat: 'other-seat', limit: 10 })
        .auctionIds,
      ['x'],
      'each filter bound to its own value',
    );
    assert.deepEqual(readAll({ accountId: 1, auctionId: 'none', limit: 10 }).auctionIds, []);
  });

  it('reads a bounded run of ids a call: past another account’s traffic it answers no record and where to read on', () => {
    ledger.record([impression('first')]);
    const busy = { ...exchangeEvent().dims, accountId: 2 };
    const noise: EventRecord[] = [];
    for (let index = 0; index < MAX_SCANNED_IDS + 500; index++)
      noise.push(exchangeEvent({ dims: { ...busy, auctionId: `n${index}` } }));
    ledger.record(noise);
    ledger.record([impression('last')]);
    const first = ledger.listBillingRecords({ accountId: 1, limit: 10 });
    assert.deepEqual(
      first.records.map((record) => record.auctionId),
      ['first'],
    );
    assert.equal(first.nextAfterId, MAX_SCANNED_IDS);
    const all = readAll({ accountId: 1, limit: 10 });
    assert.deepEqual(all.auctionIds, ['first', 'last']);
    assert.equal(all.pages, 2);
    assert.deepEqual(readAll({ accountId: 1, auctionId: 'last', limit: 10 }), {
      auctionIds: ['last'],
      pages: 2,
    });
  });

  it('reads the rows by id and looks each one’s dimensions up, never visiting the account’s other rows', () => {
    for (const seat of [false, true]) {
      const steps = (
        ledgers.db
          .prepare(
            `EXPLAIN QUERY PLAN ${billingRecordsSql({ seat, impressionType: seat, auctionId: seat, publisherId: seat, publisher: seat })}`,
          )
          .all(1, 2, 0, 1, 0, 1, 1, ...(seat ? ['seat', 'exchange', 'auction', 1, 7, 1, 'pub'] : []), 10) as {
          detail: string;
        }[]
      ).map((step) => step.detail);
      assert.match(
        steps[0] ?? '',
        /^SEARCH r USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/,
        steps.join('; '),
      );
      assert.match(steps[1] ?? '', /^SEARCH d USING INTEGER PRIMARY KEY \(rowid=\?\)/, steps.join('; '));
      // The delivery by the impression's key; a record's publisher by its catalog id or its OpenRTB
      // id, in the catalog's indexes; a filter on either, the account's dimensions once (a list).
      const searches = steps.filter((step) => step.startsWith('SEARCH '));
      assert.equal(
        searches.filter((step) => /^SEARCH dl USING INDEX \w+ \(dedupe_key=\?\)/.test(step)).length,
        1,
        steps.join('; '),
      );
      const byExternalId =
        'SEARCH p USING COVERING INDEX publishers_external_id (account_id=? AND external_id=?)';
      const byId = 'SEARCH p USING INTEGER PRIMARY KEY (rowid=?)';
      const accountDims = 'SEARCH pd USING COVERING INDEX sqlite_autoindex_event_dims_1 (account_id=?)';
      assert.deepEqual(
        searches.filter((step) => !/^SEARCH (r|d|dl) /.test(step)).sort(),
        seat ? [byExternalId, byExternalId, byId, byId, accountDims, accountDims] : [byExternalId, byId],
        steps.join('; '),
      );
      assert.equal(steps.filter((step) => step.startsWith('SCAN')).length, 0, steps.join('; '));
      assert.equal(steps.filter((step) => step.startsWith('LIST SUBQUERY')).length, seat ? 2 : 0);
    }
  });
});
