/**
 * Reports filtered on a catalog id, over real HTTP on loopback, on a real SQLite catalog and
 * ledger and the report thread: an id the key knows no object by is warned of, in JSON and CSV
 * alike, and to a scoped key an object outside its scope is as unknown as one that is not there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../adapters/sqlite/catalog.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { hourStartMs } from '../lib/time.js';
import type { KeyScope } from '../ports/accounts.js';
import type { Tracker } from '../ports/catalog.js';
import { newApiKey } from './auth.js';
import { reportCatalog } from './report-id-warnings.js';
import { ReportThread } from './report-thread/report-thread.js';
import { reportRoutes } from './reports.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { createCatalogSide, stored } from '../../test/support/catalog-sides.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-report-id-warnings-'));
const dbPath = join(dir, 'tally.db');
const db = openSqlite(dbPath);
const accounts = new SqliteAccountStore(db);
const catalog = new SqliteCatalogStore(db);
const ledger = new SqliteLedger(db);
const thread = new ReportThread(dbPath, 'tally-reports');
let server: ApiServer;
const RANGE = `from=${new Date(hourStartMs(T0)).toISOString()}&to=${new Date(hourStartMs(T0) + 3_600_000).toISOString()}`;
/** An id no object of any kind has. */
const NONE = 999_999;

const accountId = accounts.createAccount('ad ops', T0).id;
/** The catalog: two advertisers' line items, each with a tracker on a publisher of its own. */
const ids = {
  mine: { advertiser: 0, lineItem: 0, publisher: 0, placement: 0, paymentRule: 0, tracker: 0 },
  theirs: { advertiser: 0, lineItem: 0, publisher: 0, placement: 0, paymentRule: 0, tracker: 0 },
  /** Advertiser mine's inactive tracker, and a tracker of its that had hits and was deleted. */
  inactiveTracker: 0,
  deletedTracker: 0,
  /**
   * Objects no tracker is on: a line item of advertiser mine, a placement of publisher mine, and
   * an advertiser and a publisher of their own.
   */
  idle: { lineItem: 0, placement: 0, advertiser: 0, publisher: 0 },
};
const keys = { accountWide: '', advertiser: '', publisher: '', idleAdvertiser: '', idlePublisher: '' };

/** A new reader key of the account, scoped to `scope`. */
function keyOf(scope: KeyScope | null): string {
  const { key, hash, prefix } = newApiKey();
  accounts.addKey(accountId, hash, prefix, 'reader', 'reader', scope, T0);
  return key;
}

/** A counted hit of `tracker` in the hour the reports read. */
function hitOf(tracker: Tracker) {
  const base = exchangeEvent({ priceMicros: 0, mediaCostMicros: 300, revenueMicros: 1000 });
  return {
    ...base,
    dims: {
      ...base.dims,
      accountId,
      impressionType: 'external_impression' as const,
      kind: '',
      format: '',
      channel: '',
      method: '',
      seat: '',
      currency: '',
      publisher: String(tracker.publisherId),
      advertiserId: tracker.advertiserId,
      lineItemId: tracker.lineItemId,
      trackerId: tracker.id,
      placementId: tracker.placementId ?? 0,
      paymentRuleId: tracker.paymentRuleId ?? 0,
    },
  };
}

before(async () => {
  for (const side of ['mine', 'theirs'] as const) {
    Object.assign(ids[side], createCatalogSide(catalog, accountId, side, T0));
  }
  const tracker = (name: string, side: 'mine' | 'theirs', state: 'active' | 'inactive' = 'active') =>
    stored(
      catalog.trackers.create(
        accountId,
        {
          kind: 'impression',
          advertiserId: ids[side].advertiser,
          name,
          code: null,
          lineItemId: ids[side].lineItem,
          publisherId: ids[side].publisher,
          placementId: ids[side].placement,
          paymentRuleId: null,
          state,
          clickUrl: null,
          firedBy: 'browser',
        },
        T0,
      ),
    );
  ids.mine.tracker = tracker('mine', 'mine');
  ids.theirs.tracker = tracker('theirs', 'theirs');
  ids.inactiveTracker = tracker('paused', 'mine', 'inactive');
  ids.deletedTracker = tracker('gone', 'mine');
  const trackerOf = (id: number) => catalog.trackers.get(accountId, id) as Tracker;
  ledger.record([hitOf(trackerOf(ids.mine.tracker)), hitOf(trackerOf(ids.deletedTracker))]);
  assert.deepEqual(catalog.trackers.delete(accountId, ids.deletedTracker), { ok: true });
  ids.idle.lineItem = stored(
    catalog.lineItems.create(
      accountId,
      {
        advertiserId: ids.mine.advertiser,
        name: 'idle',
        revenueType: 'cpm',
        revenueValueMicros: 2_000_000,
        state: 'active',
      },
      T0,
    ),
  );
  ids.idle.placement = stored(
    catalog.placements.create(accountId, { publisherId: ids.mine.publisher, name: 'idle' }, T0),
  );
  ids.idle.advertiser = stored(catalog.advertisers.create(accountId, { name: 'idle' }, T0));
  ids.idle.publisher = stored(catalog.publishers.create(accountId, { name: 'idle', externalId: null }, T0));
  keys.accountWide = keyOf(null);
  keys.advertiser = keyOf({ type: 'advertiser', id: ids.mine.advertiser });
  keys.publisher = keyOf({ type: 'publisher', id: ids.mine.publisher });
  keys.idleAdvertiser = keyOf({ type: 'advertiser', id: ids.idle.advertiser });
  keys.idlePublisher = keyOf({ type: 'publisher', id: ids.idle.publisher });
  server = await serveApi(reportRoutes(thread, reportCatalog(catalog), 1000), accounts);
});

after(async () => {
  await server.close();
  await thread.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The report `query` answers `key`: its status, warnings header, JSON body or CSV text. */
async function report(key: string, query: string) {
  const response = await fetch(`${server.base}/v1/reports?${RANGE}&${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json') === true;
  return {
    status: response.status,
    header: response.headers.get('x-tally-warnings'),
    body: json ? JSON.parse(text) : text,
  };
}

describe('reports filtered on a catalog id', () => {
  it('warns, in the JSON and in the X-Tally-Warnings header, of a tracker id the account has no tracker by, rather than answer an empty report as if it had no traffic', async () => {
    const answer = await report(keys.accountWide, `tracker=${NONE}&groupBy=tracker`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.rows, []);
    assert.deepEqual(answer.body.warnings, [
      {
        code: 'unknown_tracker',
        id: NONE,
        message: `tracker=${NONE} names no impression or click tracker of the account: a mistyped id, or one deleted since; the rows hold only what was recorded under it before (nothing, for an id never used): check the id`,
      },
    ]);
    assert.equal(answer.header, `unknown_tracker;id=${NONE}`);
  });

  it('warns of each catalog id filter naming nothing, in the order of the dimensions, and of none naming an object, an inactive one included, or 0', async () => {
    const unknown = await report(
      keys.accountWide,
      `paymentRule=${NONE}&placement=${NONE + 1}&tracker=${NONE + 2}&lineItem=${NONE + 3}&advertiser=${NONE + 4}&publisherId=${NONE + 5}`,
    );
    assert.equal(unknown.status, 200, JSON.stringify(unknown.body));
    assert.equal(
      unknown.header,
      `unknown_publisher;id=${NONE + 5}, unknown_advertiser;id=${NONE + 4}, unknown_line_item;id=${NONE + 3}, unknown_tracker;id=${NONE + 2}, unknown_placement;id=${NONE + 1}, unknown_payment_rule;id=${NONE}`,
    );
    assert.deepEqual(
      unknown.body.warnings.map((warning: { message: string }) => warning.message.split(' names ')[0]),
      [
        `publisherId=${NONE + 5}`,
        `advertiser=${NONE + 4}`,
        `lineItem=${NONE + 3}`,
        `tracker=${NONE + 2}`,
        `placement=${NONE + 1}`,
        `paymentRule=${NONE}`,
      ],
    );
    const { mine } = ids;
    for (const query of [
      `publisherId=${mine.publisher}&advertiser=${mine.advertiser}&lineItem=${mine.lineItem}&tracker=${mine.tracker}&placement=${mine.placement}&paymentRule=${mine.paymentRule}`,
      `tracker=${ids.inactiveTracker}`,
      // 0 is what rows hold where they have no such object: an exchange row's tracker, for one.
      'tracker=0&placement=0&paymentRule=0&publisherId=0&advertiser=0&lineItem=0',
    ]) {
      const known = await report(keys.accountWide, query);
      assert.equal(known.status, 200, JSON.stringify(known.body));
      assert.deepEqual(known.body.warnings, [], query);
      assert.equal(known.header, null, query);
    }
  });

  it('answers CSV with the same warnings in the X-Tally-Warnings header, its body the rows alone', async () => {
    const answer = await report(keys.accountWide, `tracker=${NONE}&groupBy=tracker&format=csv`);
    assert.equal(answer.status, 200);
    assert.equal(answer.header, `unknown_tracker;id=${NONE}`);
    assert.equal(answer.body, 'tracker,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros\r\n');
  });

  it("reports a deleted tracker's past hits, warning that the catalog no longer has it", async () => {
    const answer = await report(keys.accountWide, `tracker=${ids.deletedTracker}&groupBy=tracker`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.rows, [
      {
        tracker: ids.deletedTracker,
        events: 1,
        priceMicros: 0,
        mediaCostMicros: 300,
        revenueMicros: 1000,
        profitMicros: 700,
      },
    ]);
    assert.equal(answer.header, `unknown_tracker;id=${ids.deletedTracker}`);
  });

  it('answers a scoped key of an id outside its scope exactly as of an id no object has, and warns it of none of the objects its trackers are on', async () => {
    const { mine, theirs } = ids;
    /** The answer as JSON text with the id filtered on written as 0, to compare two answers but for it. */
    const answerFor = async (key: string, filter: string, id: number) => {
      const answer = await report(key, `${filter}=${id}`);
      return { answer, text: JSON.stringify(answer).replace(new RegExp(`\\b${id}\\b`, 'g'), '0') };
    };
    const scoped = [
      {
        key: keys.advertiser,
        outside: {
          lineItem: theirs.lineItem,
          tracker: theirs.tracker,
          publisherId: theirs.publisher,
          placement: theirs.placement,
        },
        // No paymentRule: an advertiser's key is refused that filter (403) whatever the id.
        inside: {
          advertiser: mine.advertiser,
          lineItem: mine.lineItem,
          tracker: mine.tracker,
          publisherId: mine.publisher,
          placement: mine.placement,
        },
      },
      {
        key: keys.publisher,
        outside: {
          advertiser: theirs.advertiser,
          lineItem: theirs.lineItem,
          tracker: theirs.tracker,
          placement: theirs.placement,
          paymentRule: theirs.paymentRule,
        },
        inside: {
          publisherId: mine.publisher,
          advertiser: mine.advertiser,
          lineItem: mine.lineItem,
          tracker: mine.tracker,
          placement: mine.placement,
          paymentRule: mine.paymentRule,
        },
      },
    ];
    for (const { key, outside, inside } of scoped) {
      for (const [filter, id] of Object.entries(outside)) {
        // The scope's own ids are 1, which would be written as <id> too.
        assert.notEqual(id, 1, `${filter} ${id} is not the scope's id`);
        const elsewhere = await answerFor(key, filter, id);
        assert.equal(elsewhere.answer.status, 200, elsewhere.text);
        assert.equal(elsewhere.answer.body.warnings.length, 1, `${filter}=${id} is warned of`);
        assert.equal(elsewhere.text, (await answerFor(key, filter, NONE)).text, `${filter}=${id}`);
      }
      for (const [filter, id] of Object.entries(inside)) {
        const answer = await report(key, `${filter}=${id}`);
        assert.deepEqual([answer.status, answer.body.warnings], [200, []], `${filter}=${id}`);
      }
    }
  });
  it("knows a scoped key's own objects that no tracker is on, and of the other side only the line items and placements its trackers are on, not every one of an advertiser or publisher they share", async () => {
    const known = [
      { key: keys.idleAdvertiser, query: '', why: 'an advertiser without trackers, its key filtered on it' },
      {
        key: keys.idlePublisher,
        query: `publisherId=${ids.idle.publisher}`,
        why: 'a publisher without trackers',
      },
      {
        key: keys.advertiser,
        query: `lineItem=${ids.idle.lineItem}`,
        why: 'its own line item without trackers',
      },
      {
        key: keys.publisher,
        query: `placement=${ids.idle.placement}`,
        why: 'its own placement without trackers',
      },
    ];
    for (const { key, query, why } of known) {
      const answer = await report(key, query);
      assert.deepEqual([answer.status, answer.body.warnings, answer.header], [200, [], null], why);
    }
    const unknown = [
      {
        key: keys.publisher,
        query: `lineItem=${ids.idle.lineItem}`,
        code: 'unknown_line_item',
        why: "a line item of an advertiser with trackers on the key's publisher, itself on none",
      },
      {
        key: keys.advertiser,
        query: `placement=${ids.idle.placement}`,
        code: 'unknown_placement',
        why: "a placement of a publisher the key's trackers are on, itself holding none of them",
      },
    ];
    for (const { key, query, code, why } of unknown) {
      const answer = await report(key, query);
      assert.equal(answer.status, 200, why);
      assert.deepEqual(
        answer.body.warnings.map((warning: { code: string }) => warning.code),
        [code],
        why,
      );
    }
  });

  it('warns of no filter whose value is not a catalog id: the OpenRTB publisher id, a seat, an outcome, an hour', async () => {
    const hour = new Date(hourStartMs(T0)).toISOString();
    const answer = await report(
      keys.accountWide,
      `publisher=pub-9&seat=s2&outcome=counted&hour=${hour}&impressionType=external_impression`,
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual([answer.body.warnings, answer.header], [[], null]);
  });

  it("warns a key of another account of this account's ids as of ids no object has", async () => {
    const otherAccount = accounts.createAccount('another', T0).id;
    const { key, hash, prefix } = newApiKey();
    accounts.addKey(otherAccount, hash, prefix, 'reader', 'reader', null, T0);
    const { mine } = ids;
    const filters: [string, number, string][] = [
      ['publisherId', mine.publisher, 'unknown_publisher'],
      ['advertiser', mine.advertiser, 'unknown_advertiser'],
      ['lineItem', mine.lineItem, 'unknown_line_item'],
      ['tracker', mine.tracker, 'unknown_tracker'],
      ['placement', mine.placement, 'unknown_placement'],
      ['paymentRule', mine.paymentRule, 'unknown_payment_rule'],
    ];
    for (const [filter, id, code] of filters) {
      const answer = await report(key, `${filter}=${id}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.header, `${code};id=${id}`, `${filter}=${id}`);
    }
  });
});
