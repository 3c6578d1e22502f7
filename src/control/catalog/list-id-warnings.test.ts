/**
 * Catalog lists filtered on a catalog id, over real HTTP on loopback on a real SQLite catalog: an
 * id the key knows no object by is warned of, as reports warn of it, and to a scoped key an object
 * outside its scope is as unknown as one that is not there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../../adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../../adapters/sqlite/catalog.js';
import { openSqlite } from '../../adapters/sqlite/database.js';
import { CatalogSnapshot } from '../../catalog-snapshot.js';
import type { KeyScope } from '../../ports/accounts.js';
import type { TrackerKind } from '../../ports/catalog.js';
import { newApiKey } from '../auth.js';
import { catalogRoutes } from './index.js';
import { CATALOG_OPENAPI_PATHS } from './openapi.js';
import type { ApiServer } from '../../../test/support/api-server.js';
import { serveApi } from '../../../test/support/api-server.js';
import { createCatalogSide, stored } from '../../../test/support/catalog-sides.js';

const NOW_MS = Date.UTC(2026, 11, 6);
const dir = mkdtempSync(join(tmpdir(), 'tally-list-id-warnings-'));
const db = openSqlite(join(dir, 'tally.db'));
const accounts = new SqliteAccountStore(db);
const catalog = new SqliteCatalogStore(db);
const snapshot = new CatalogSnapshot(catalog, { pollIntervalMs: 60_000 });
let server: ApiServer;
/** An id no object of any kind has. */
const NONE = 999_999;

const accountId = accounts.createAccount('ad ops', NOW_MS).id;
/** The catalog: two advertisers' line items, each with trackers on a publisher of its own. */
const ids = {
  mine: { advertiser: 0, lineItem: 0, publisher: 0, placement: 0, paymentRule: 0 },
  theirs: { advertiser: 0, lineItem: 0, publisher: 0, placement: 0, paymentRule: 0 },
  /** Advertiser mine's inactive line item, and a placement of publisher mine deleted since. */
  inactiveLineItem: 0,
  deletedPlacement: 0,
};
const keys = { accountWide: '', advertiser: '', publisher: '' };

/** Every list and the id filters it takes, each with the code of the warning for an unknown id. */
const TRACKER_FILTERS = {
  advertiserId: 'unknown_advertiser',
  lineItemId: 'unknown_line_item',
  publisherId: 'unknown_publisher',
  placementId: 'unknown_placement',
  paymentRuleId: 'unknown_payment_rule',
};
const LIST_ID_FILTERS: Record<string, Record<string, string>> = {
  '/v1/line-items': { advertiserId: 'unknown_advertiser' },
  '/v1/placements': { publisherId: 'unknown_publisher' },
  '/v1/payment-rules': { publisherId: 'unknown_publisher' },
  '/v1/impression-trackers': TRACKER_FILTERS,
  '/v1/click-trackers': TRACKER_FILTERS,
};

/** A new reader key of the account, scoped to `scope`. */
function keyOf(scope: KeyScope | null): string {
  const { key, hash, prefix } = newApiKey();
  accounts.addKey(accountId, hash, prefix, 'reader', 'reader', scope, NOW_MS);
  return key;
}

before(async () => {
  for (const side of ['mine', 'theirs'] as const) {
    const own = Object.assign(ids[side], createCatalogSide(catalog, accountId, side, NOW_MS));
    for (const kind of ['impression', 'click'] as TrackerKind[]) {
      stored(
        catalog.trackers.create(
          accountId,
          {
            kind,
            advertiserId: own.advertiser,
            name: `${side} ${kind}`,
            code: null,
            lineItemId: own.lineItem,
            publisherId: own.publisher,
            placementId: own.placement,
            paymentRuleId: own.paymentRule,
            state: 'active',
            clickUrl: kind === 'click' ? 'https://advertiser.example/' : null,
            firedBy: 'browser',
          },
          NOW_MS,
        ),
      );
    }
  }
  ids.inactiveLineItem = stored(
    catalog.lineItems.create(
      accountId,
      {
        advertiserId: ids.mine.advertiser,
        name: 'paused',
        revenueType: 'none',
        revenueValueMicros: 0,
        state: 'inactive',
      },
      NOW_MS,
    ),
  );
  ids.deletedPlacement = stored(
    catalog.placements.create(accountId, { publisherId: ids.mine.publisher, name: 'gone' }, NOW_MS),
  );
  assert.deepEqual(catalog.placements.delete(accountId, ids.deletedPlacement), { ok: true });
  keys.accountWide = keyOf(null);
  keys.advertiser = keyOf({ type: 'advertiser', id: ids.mine.advertiser });
  keys.publisher = keyOf({ type: 'publisher', id: ids.mine.publisher });
  snapshot.start();
  server = await serveApi(
    catalogRoutes(catalog, accounts, () => snapshot.current()),
    accounts,
  );
});

after(async () => {
  await server.close();
  snapshot.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The list `path` answers `key`: its status, warnings header and JSON body. */
async function list(key: string, path: string) {
  const response = await fetch(`${server.base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return {
    status: response.status,
    header: response.headers.get('x-tally-warnings'),
    body: (await response.json()) as any,
  };
}

describe('catalog lists filtered on a catalog id', () => {
  it('warns, in the JSON and in the X-Tally-Warnings header, of a line item id the account has no line item by, rather than answer an empty page as if it had no trackers', async () => {
    const answer = await list(keys.accountWide, `/v1/impression-trackers?lineItemId=${NONE}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, {
      items: [],
      next: null,
      warnings: [
        {
          code: 'unknown_line_item',
          id: NONE,
          message: `lineItemId=${NONE} names no line item of the account: a mistyped id, or one deleted since; no impression trackers are listed under it: check the id`,
        },
      ],
    });
    assert.equal(answer.header, `unknown_line_item;id=${NONE}`);
  });

  it('warns of every id filter of every list naming nothing, a deleted object included', async () => {
    for (const [path, filters] of Object.entries(LIST_ID_FILTERS)) {
      for (const [filter, code] of Object.entries(filters)) {
        const answer = await list(keys.accountWide, `${path}?${filter}=${NONE}`);
        assert.equal(answer.status, 200, `${path}?${filter}: ${JSON.stringify(answer.body)}`);
        assert.deepEqual(
          [answer.body.items, answer.body.warnings.map((warning: { code: string }) => warning.code)],
          [[], [code]],
          `${path}?${filter}`,
        );
        assert.equal(answer.header, `${code};id=${NONE}`, `${path}?${filter}`);
      }
    }
    const deleted = await list(keys.accountWide, `/v1/click-trackers?placementId=${ids.deletedPlacement}`);
    assert.equal(deleted.header, `unknown_placement;id=${ids.deletedPlacement}`);
  });

  it('warns of each id filter naming nothing in the order of the query, and of none naming an object, an inactive one included', async () => {
    const unknown = await list(
      keys.accountWide,
      `/v1/impression-trackers?paymentRuleId=${NONE}&placementId=${NONE + 1}&publisherId=${ids.mine.publisher}&lineItemId=${NONE + 2}`,
    );
    assert.equal(
      unknown.header,
      `unknown_payment_rule;id=${NONE}, unknown_placement;id=${NONE + 1}, unknown_line_item;id=${NONE + 2}`,
    );
    const { mine } = ids;
    for (const path of [
      `/v1/impression-trackers?advertiserId=${mine.advertiser}&lineItemId=${mine.lineItem}&publisherId=${mine.publisher}&placementId=${mine.placement}&paymentRuleId=${mine.paymentRule}`,
      // An inactive line item is in the catalog: it has no trackers, which the empty page says.
      `/v1/click-trackers?lineItemId=${ids.inactiveLineItem}`,
      `/v1/line-items?advertiserId=${mine.advertiser}`,
      `/v1/placements?publisherId=${mine.publisher}`,
      `/v1/payment-rules?publisherId=${mine.publisher}`,
      '/v1/advertisers',
      '/v1/publishers?name=mine',
    ]) {
      const known = await list(keys.accountWide, path);
      assert.equal(known.status, 200, JSON.stringify(known.body));
      assert.deepEqual(known.body.warnings, [], path);
      assert.equal(known.header, null, path);
    }
  });

  it('keeps a page as it was, items and next, adding its warnings alone', async () => {
    const first = await list(keys.accountWide, `/v1/impression-trackers?limit=1`);
    assert.deepEqual(Object.keys(first.body), ['items', 'next', 'warnings']);
    assert.equal(first.body.items.length, 1);
    assert.equal(first.body.next, first.body.items[0].id);
    const second = await list(keys.accountWide, `/v1/impression-trackers?limit=1&after=${first.body.next}`);
    assert.deepEqual(
      [second.body.items.length, second.body.next, second.body.warnings],
      [1, null, []],
      JSON.stringify(second.body),
    );
  });

  it('answers a scoped key of an id outside its scope exactly as of an id no object has, and warns it of none of the objects its trackers are on', async () => {
    const { mine, theirs } = ids;
    /** The answer with the id filtered on written as 0, to compare two answers but for it. */
    const answerFor = async (key: string, path: string, filter: string, id: number) => {
      const answer = await list(key, `${path}?${filter}=${id}`);
      return JSON.stringify(answer).replace(new RegExp(`\\b${id}\\b`, 'g'), '0');
    };
    const trackerLists = ['/v1/impression-trackers', '/v1/click-trackers'];
    const scoped = [
      {
        key: keys.advertiser,
        scope: `advertiser ${mine.advertiser}`,
        outside: {
          lineItemId: theirs.lineItem,
          publisherId: theirs.publisher,
          placementId: theirs.placement,
          paymentRuleId: theirs.paymentRule,
        },
        inside: {
          advertiserId: mine.advertiser,
          lineItemId: mine.lineItem,
          publisherId: mine.publisher,
          placementId: mine.placement,
          paymentRuleId: mine.paymentRule,
        },
      },
      {
        key: keys.publisher,
        scope: `publisher ${mine.publisher}`,
        outside: {
          advertiserId: theirs.advertiser,
          lineItemId: theirs.lineItem,
          placementId: theirs.placement,
          paymentRuleId: theirs.paymentRule,
        },
        inside: {
          publisherId: mine.publisher,
          advertiserId: mine.advertiser,
          lineItemId: mine.lineItem,
          placementId: mine.placement,
          paymentRuleId: mine.paymentRule,
        },
      },
    ];
    for (const { key, scope, outside, inside } of scoped) {
      for (const path of trackerLists) {
        for (const [filter, id] of Object.entries(outside)) {
          // The scope's own ids are 1, which would be written as 0 too.
          assert.notEqual(id, 1, `${filter} ${id} is not the scope's id`);
          const elsewhere = await list(key, `${path}?${filter}=${id}`);
          assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
          assert.equal(elsewhere.body.warnings.length, 1, `${path}?${filter}=${id} is warned of`);
          assert.match(
            elsewhere.body.warnings[0].message,
            new RegExp(`^${filter}=${id} names no .* within your key's scope \\(${scope}\\): `),
          );
          assert.equal(
            await answerFor(key, path, filter, id),
            await answerFor(key, path, filter, NONE),
            `${path}?${filter}=${id}`,
          );
        }
        for (const [filter, id] of Object.entries(inside)) {
          const answer = await list(key, `${path}?${filter}=${id}`);
          assert.deepEqual(
            [answer.status, answer.body.items.length, answer.body.warnings],
            [200, 1, []],
            `${path}?${filter}=${id}`,
          );
        }
      }
    }
  });

  it("still refuses a scoped key's filter naming another advertiser or publisher, there or not, with 403", async () => {
    const { theirs } = ids;
    const refused = [
      [keys.advertiser, '/v1/impression-trackers', 'advertiserId', theirs.advertiser],
      [keys.advertiser, '/v1/line-items', 'advertiserId', theirs.advertiser],
      [keys.publisher, '/v1/click-trackers', 'publisherId', theirs.publisher],
      [keys.publisher, '/v1/placements', 'publisherId', theirs.publisher],
      [keys.publisher, '/v1/payment-rules', 'publisherId', theirs.publisher],
    ] as const;
    for (const [key, path, filter, id] of refused) {
      for (const named of [id, NONE]) {
        const answer = await list(key, `${path}?${filter}=${named}`);
        assert.deepEqual(
          [answer.status, answer.body.error?.code, answer.header],
          [403, 'FORBIDDEN', null],
          `${path}?${filter}=${named}`,
        );
      }
    }
  });

  it('documents the warnings of each list as its filters on an id give them, and none for a list without one', async () => {
    for (const path of Object.keys(CATALOG_OPENAPI_PATHS).filter((path) => !path.includes('{'))) {
      // API keys take no filter, and the allow-list is one object, not a list.
      if (path === '/v1/api-keys' || path === '/v1/account/redirect-allowlist') continue;
      const operation = (CATALOG_OPENAPI_PATHS[path] as Record<string, any>).get;
      const documented = operation.responses['200'].content['application/json'].schema.properties.warnings;
      const codes = Object.values(LIST_ID_FILTERS[path] ?? {});
      assert.deepEqual(
        [...((documented.items?.properties.code.enum as string[] | undefined) ?? [])].sort(),
        [...new Set(codes)].sort(),
        path,
      );
      const integerFilters = (operation.parameters as { name: string; schema: { type?: string } }[])
        .filter(
          (parameter) => parameter.schema.type === 'integer' && !['limit', 'after'].includes(parameter.name),
        )
        .map((parameter) => parameter.name);
      assert.deepEqual(
        integerFilters.sort(),
        Object.keys(LIST_ID_FILTERS[path] ?? {}).sort(),
        `${path} id filters`,
      );
      assert.equal(documented.maxItems, codes.length === 0 ? 0 : undefined, path);
      const answer = await list(keys.accountWide, path);
      assert.deepEqual([answer.status, answer.body.warnings], [200, []], path);
    }
  });
});
