/**
 * The catalog routes over real HTTP on loopback, in this process, on a real SQLite file: the
 * rules of the API that the end-to-end suite does not reach (boundaries, scoped keys' limits,
 * the last admin key), without starting a whole Tally for each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { api } from '../../../test/support/server.js';
import type { ApiServer } from '../../../test/support/api-server.js';
import { serveApi } from '../../../test/support/api-server.js';
import { SqliteAccountStore } from '../../adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../../adapters/sqlite/catalog.js';
import { openSqlite } from '../../adapters/sqlite/database.js';
import { CatalogSnapshot } from '../../catalog-snapshot.js';
import type { KeyScope, Role } from '../../ports/accounts.js';
import { newApiKey } from '../auth.js';
import { catalogRoutes } from './index.js';
import { schemaProblems } from '../../../test/support/json-schema.js';
import { OPENAPI_DOCUMENT } from '../openapi.js';
import { CATALOG_OPENAPI_PATHS } from './openapi.js';

const NOW_MS = Date.UTC(2026, 10, 22);

/** The codes of an answer's `warnings`, in order. */
function warningCodes(answer: Record<string, any>): string[] {
  return (answer.warnings as { code: string }[]).map((warning) => warning.code);
}

describe('catalog routes', () => {
  let dir: string;
  let db: Database.Database;
  let server: ApiServer;
  let snapshot: CatalogSnapshot;
  let url: string;
  let accounts: SqliteAccountStore;
  let accountId: number;
  let adminKey: string;
  let adminKeyId: number;

  /** Adds a key to the account and answers it. */
  const keyFor = (role: Role, scope: KeyScope | null = null): { key: string; id: number } => {
    const generated = newApiKey();
    const record = accounts.addKey(accountId, generated.hash, generated.prefix, role, role, scope, NOW_MS);
    return { key: generated.key, id: record.id };
  };
  const as = (key: string, method: string, path: string, body?: unknown) =>
    api({ url }, key, method, path, body);
  const call = (method: string, path: string, body?: unknown) => as(adminKey, method, path, body);
  const createAs = async (key: string, path: string, body: unknown): Promise<Record<string, any>> => {
    const response = await as(key, 'POST', path, body);
    assert.equal(response.status, 201, `${path}: ${JSON.stringify(response.body)}`);
    return response.body as Record<string, any>;
  };
  const create = (path: string, body: unknown) => createAs(adminKey, path, body);
  const ok = async (method: string, path: string, body?: unknown): Promise<Record<string, any>> => {
    const response = await call(method, path, body);
    assert.equal(response.status, 200, `${method} ${path}: ${JSON.stringify(response.body)}`);
    return response.body as Record<string, any>;
  };
  const idsOf = (body: Record<string, any>): number[] =>
    (body.items as { id: number }[]).map((item) => item.id);
  /** Asserts a 400 whose message matches `problem`. */
  const assertRefused = async (method: string, path: string, body: unknown, problem: RegExp) => {
    const response = await call(method, path, body);
    assert.equal(response.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.code, 'VALIDATION_FAILED');
    assert.match(response.body.error.message, problem);
  };
  const advertiser = () => create('/v1/advertisers', { name: 'Adv' });
  const publisher = () => create('/v1/publishers', { name: 'Pub' });
  /** A revshare payment rule of `publisherId` paying half, with `fields` applied. */
  const rule = (publisherId: number, fields: object) => ({
    publisherId,
    name: 'Rule',
    pricingType: 'revshare',
    revshare: 0.5,
    ...fields,
  });
  /**
   * A new advertiser's cost-plus-margin line item and a new publisher whose base rule is a share
   * of revenue: terms that book a tracker's hits at a cost of 0.
   */
  const marginOnRevshare = async () => {
    const owner = await advertiser();
    const pub = await publisher();
    await create('/v1/payment-rules', rule(pub.id as number, {}));
    const margin = await create('/v1/line-items', {
      advertiserId: owner.id,
      name: 'Margin',
      revenueType: 'cost_plus_margin',
      revenueValue: 0.2,
    });
    return { owner, pub, margin };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tally-catalog-routes-'));
    db = openSqlite(join(dir, 'tally.db'));
    accounts = new SqliteAccountStore(db);
    accountId = accounts.createAccount('A', NOW_MS).id;
    ({ key: adminKey, id: adminKeyId } = keyFor('admin'));
    const catalog = new SqliteCatalogStore(db);
    snapshot = new CatalogSnapshot(catalog, { pollIntervalMs: 60_000 });
    snapshot.start();
    server = await serveApi(
      catalogRoutes(catalog, accounts, () => snapshot.current()),
      accounts,
    );
    url = server.base;
  });
  after(async () => {
    await server.close();
    snapshot.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('API keys', () => {
    it('keeps the last account-wide admin key even when a scoped admin key exists', async () => {
      const owner = await advertiser();
      keyFor('admin', { type: 'advertiser', id: owner.id as number });
      const refused = await call('DELETE', `/v1/api-keys/${adminKeyId}`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(refused.body.error.message, /last account-wide admin key/);
      const spare = keyFor('admin');
      assert.equal(
        (await call('DELETE', `/v1/api-keys/${spare.id}`)).status,
        204,
        'another admin key was left',
      );
      assert.equal((await call('DELETE', `/v1/api-keys/${adminKeyId}`)).status, 409);
    });

    it('asks for the role and a well-formed scope of a new key', async () => {
      await assertRefused(
        'POST',
        '/v1/api-keys',
        { name: 'no role' },
        /role: required: send one of "admin", "editor", "reader"/,
      );
      for (const scope of [
        { type: 'line-item', id: 1 },
        { type: 'advertiser' },
        { type: 'advertiser', id: '1' },
        'x',
      ]) {
        await assertRefused(
          'POST',
          '/v1/api-keys',
          { name: 'k', role: 'reader', scope },
          /scope: send \{"type"/,
        );
      }
    });

    it('refuses a malformed scope saying which of it is wrong: not an object, its type, or its id', async () => {
      for (const [scope, wrong] of [
        ['x', 'it is a string ("x")'],
        [[{ type: 'advertiser', id: 1 }], 'it is an array ([{"type":"advertiser","id":1}])'],
        [{ type: 'line-item', id: 1 }, 'its type is "line-item"'],
        [{ id: 1 }, 'its type is missing'],
        [{ type: 'advertiser', id: '1' }, 'its id is a string ("1"), not the advertiser\'s numeric id'],
        [{ type: 'publisher', id: 1.5 }, "its id is 1.5, not the publisher's numeric id"],
        [{ type: 'advertiser' }, 'its id is missing'],
      ] as const) {
        const refused = await call('POST', '/v1/api-keys', { name: 'k', role: 'reader', scope });
        assert.deepEqual(
          [refused.status, refused.body.error?.message],
          [
            400,
            `the API key was not saved; fix this field: scope: send {"type": "advertiser" | "publisher", "id": <its id>}, or leave it out for an account-wide key: ${wrong}`,
          ],
          JSON.stringify(scope),
        );
      }
    });

    it('refuses a scope with a member besides type and id, naming it, and creates no key', async () => {
      const owner = await advertiser();
      const keysBefore = (await ok('GET', '/v1/api-keys?limit=500')).items.length as number;
      for (const [scope, member] of [
        [{ type: 'advertiser', id: owner.id, readOnly: true }, 'readOnly'],
        [{ type: 'advertiser', id: owner.id, advertiserId: owner.id }, 'advertiserId'],
      ] as const) {
        await assertRefused(
          'POST',
          '/v1/api-keys',
          { name: 'k', role: 'editor', scope },
          new RegExp(`scope: unknown member "${member}"; a scope is \\{"type", "id"\\} alone`),
        );
      }
      assert.equal((await ok('GET', '/v1/api-keys?limit=500')).items.length, keysBefore);
    });

    it('scopes a new key to an advertiser or publisher of the account, checking the id among that kind only', async () => {
      const owner = await advertiser();
      assert.equal((await call('GET', `/v1/publishers/${owner.id}`)).status, 404, 'no publisher has that id');
      await assertRefused(
        'POST',
        '/v1/api-keys',
        { name: 'k', role: 'reader', scope: { type: 'publisher', id: owner.id } },
        new RegExp(`scope: there is no publisher ${owner.id} in this account`),
      );
      // Not read as no scope: that would make an account-wide key of a scoped one.
      for (const id of [0, -1]) {
        await assertRefused(
          'POST',
          '/v1/api-keys',
          { name: 'k', role: 'reader', scope: { type: 'advertiser', id } },
          new RegExp(`scope: there is no advertiser ${id} in this account`),
        );
      }
      const scoped = await call('POST', '/v1/api-keys', {
        name: 'k',
        role: 'reader',
        scope: { type: 'advertiser', id: owner.id },
      });
      assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
      assert.deepEqual(scoped.body.scope, { type: 'advertiser', id: owner.id });
    });

    it('lists keys in pages, each key once', async () => {
      for (const role of ['reader', 'editor'] as const) keyFor(role);
      const all = (await call('GET', '/v1/api-keys?limit=500')).body.items.map(
        (item: { id: number }) => item.id,
      );
      assert.ok(all.length >= 3, `at least 3 keys exist to page through; got ${all.length}`);
      const seen: number[] = [];
      let next: number | null = null;
      do {
        const page: { status: number; body: any } = await call(
          'GET',
          `/v1/api-keys?limit=2${next === null ? '' : `&after=${next}`}`,
        );
        assert.equal(page.status, 200);
        assert.ok(
          page.body.items.length <= 2,
          `a page holds at most limit=2 keys; got ${page.body.items.length}`,
        );
        seen.push(...page.body.items.map((item: { id: number }) => item.id));
        next = page.body.next as number | null;
      } while (next !== null);
      assert.deepEqual(seen, all);
    });
  });

  describe('scoped keys', () => {
    it('lets a publisher-scoped editor rename its publisher but not change its externalId', async () => {
      const own = await create('/v1/publishers', { name: 'Own', externalId: 'own-pub' });
      const { key } = keyFor('editor', { type: 'publisher', id: own.id as number });
      const renamed = await as(key, 'PATCH', `/v1/publishers/${own.id}`, { name: 'Own renamed' });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const same = await as(key, 'PUT', `/v1/publishers/${own.id}`, { name: 'Own', externalId: 'own-pub' });
      assert.equal(same.status, 200, JSON.stringify(same.body));
      for (const externalId of ['someone-else', null]) {
        const changed = await as(key, 'PATCH', `/v1/publishers/${own.id}`, { externalId });
        assert.equal(changed.status, 403, JSON.stringify(changed.body));
        assert.match(changed.body.error.message, /externalId can only be changed with an account-wide key/);
      }
      assert.equal((await call('GET', `/v1/publishers/${own.id}`)).body.externalId, 'own-pub');
    });

    it('lets a scoped key filter its list by its own advertiser or publisher', async () => {
      const own = await advertiser();
      const { key } = keyFor('reader', { type: 'advertiser', id: own.id as number });
      const lineItem = await create('/v1/line-items', {
        advertiserId: own.id,
        name: 'Own',
        revenueType: 'none',
      });
      const listed = await as(key, 'GET', `/v1/line-items?advertiserId=${own.id}`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(
        listed.body.items.map((item: { id: number }) => item.id),
        [lineItem.id],
      );
      const pub = await publisher();
      const publisherKey = keyFor('reader', { type: 'publisher', id: pub.id as number }).key;
      assert.equal((await as(publisherKey, 'GET', `/v1/placements?publisherId=${pub.id}`)).status, 200);
    });
  });

  describe('deleting', () => {
    it('names the first 10 dependents and counts the rest, from the 11th on', async () => {
      const owner = await advertiser();
      const ids: number[] = [];
      const addLineItem = async () =>
        ids.push(
          (
            await create('/v1/line-items', {
              advertiserId: owner.id,
              name: `LI ${ids.length}`,
              revenueType: 'none',
            })
          ).id as number,
        );
      for (let at = 0; at < 10; at++) await addLineItem();
      const ten = await call('DELETE', `/v1/advertisers/${owner.id}`);
      assert.equal(
        ten.body.error.message,
        `advertiser ${owner.id} still has 10 line items (ids ${ids.join(', ')}); delete them first`,
      );
      await addLineItem();
      const refused = await call('DELETE', `/v1/advertisers/${owner.id}`);
      assert.equal(refused.status, 409);
      assert.equal(
        refused.body.error.message,
        `advertiser ${owner.id} still has 11 line items (ids ${ids.slice(0, 10).join(', ')} and 1 more); delete them first`,
      );
    });

    it('deletes an advertiser or a publisher whatever keys are scoped to the other kind with its id', async () => {
      // Advertisers and publishers count their ids apart: one of each with the same id.
      const twins = async () => {
        let owner = await advertiser();
        let pub = await publisher();
        while (owner.id !== pub.id) {
          if ((owner.id as number) < (pub.id as number)) owner = await advertiser();
          else pub = await publisher();
        }
        return { owner, pub };
      };
      const first = await twins();
      keyFor('reader', { type: 'publisher', id: first.pub.id as number });
      const advertiserGone = await call('DELETE', `/v1/advertisers/${first.owner.id}`);
      assert.equal(advertiserGone.status, 204, JSON.stringify(advertiserGone.body));
      const second = await twins();
      keyFor('reader', { type: 'advertiser', id: second.owner.id as number });
      const publisherGone = await call('DELETE', `/v1/publishers/${second.pub.id}`);
      assert.equal(publisherGone.status, 204, JSON.stringify(publisherGone.body));
    });
  });

  describe('line items', () => {
    it('takes a revenue value of 0 for revenueType none, refuses any other, and asks for the type', async () => {
      const owner = await advertiser();
      const none = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'House',
        revenueType: 'none',
        revenueValue: 0,
      });
      assert.equal(none.revenueValue, 0);
      const body = { advertiserId: owner.id, name: 'House' };
      await assertRefused(
        'POST',
        '/v1/line-items',
        { ...body, revenueType: 'none', revenueValue: 0.5 },
        /revenueValue: a line item with revenueType "none" has no revenue/,
      );
      await assertRefused('POST', '/v1/line-items', body, /revenueType: required: send one of "none"/);
    });

    it('takes a cost-per-click line item priced in currency units, with the bounds of a CPM, and asks for the price per click', async () => {
      const owner = await advertiser();
      const body = { advertiserId: owner.id, name: 'CPC', revenueType: 'cpc' };
      const cpc = await create('/v1/line-items', { ...body, revenueValue: 0.4 });
      assert.deepEqual([cpc.revenueType, cpc.revenueValue], ['cpc', 0.4]);
      const largest = await create('/v1/line-items', { ...body, revenueValue: '999999.999999' });
      assert.equal(largest.revenueValue, 999999.999999);
      await assertRefused(
        'POST',
        '/v1/line-items',
        body,
        /revenueValue: required for cpc: send the price of one click in currency units, e.g. 0.4/,
      );
      for (const revenueValue of [1_000_000, -0.1, '0.0000001']) {
        await assertRefused(
          'POST',
          '/v1/line-items',
          { ...body, revenueValue },
          /revenueValue: .*a decimal amount from 0 to 999999.999999 with at most 6 decimals/,
        );
      }
      // From a fraction type, the value must be sent again: 0.25 of cost is not 0.25 a click.
      const margin = await create('/v1/line-items', {
        ...body,
        revenueType: 'cost_plus_margin',
        revenueValue: 0.25,
      });
      await assertRefused('PATCH', `/v1/line-items/${margin.id}`, { revenueType: 'cpc' }, /required for cpc/);
      const switched = await ok('PATCH', `/v1/line-items/${margin.id}`, {
        revenueType: 'cpc',
        revenueValue: 2,
      });
      assert.deepEqual([switched.revenueType, switched.revenueValue], ['cpc', 2]);
      const listed = await ok('GET', `/v1/line-items?advertiserId=${owner.id}&revenueType=cpc`);
      assert.deepEqual(idsOf(listed), [cpc.id, largest.id, margin.id]);
    });

    it("takes a line item's or payment rule's write answer sent back with PUT, its warnings included", async () => {
      const owner = await advertiser();
      const lineItem = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'Back',
        revenueType: 'cpm',
        revenueValue: 1,
      });
      assert.deepEqual(lineItem.warnings, []);
      const stored = await ok('PUT', `/v1/line-items/${lineItem.id}`, lineItem);
      assert.deepEqual({ ...stored, updatedAt: null }, { ...lineItem, updatedAt: null });
      const paymentRule = await create('/v1/payment-rules', rule((await publisher()).id as number, {}));
      assert.deepEqual(paymentRule.warnings, []);
      const putBack = await ok('PUT', `/v1/payment-rules/${paymentRule.id}`, paymentRule);
      assert.deepEqual(putBack.warnings, []);
      assert.equal(putBack.name, paymentRule.name);
    });

    it("names the first ten trackers a write books at 0 and counts the rest, points to the first one's own warnings, and says when it looked at only the first 500", async () => {
      const { owner, pub, margin } = await marginOnRevshare();
      const trackers = new SqliteCatalogStore(db).trackers;
      const addTrackers = (count: number) => {
        for (let index = 0; index < count; index++) {
          const added = trackers.create(
            accountId,
            {
              kind: 'impression',
              advertiserId: owner.id as number,
              name: `T${index}`,
              code: null,
              lineItemId: margin.id as number,
              publisherId: pub.id as number,
              placementId: null,
              paymentRuleId: null,
              state: 'active',
              clickUrl: null,
              firedBy: 'browser',
            },
            NOW_MS,
          );
          assert.equal(added.ok, true);
        }
      };
      addTrackers(12);
      // The trackers came in by another store: the snapshot learns of them from this write.
      const twelve = await ok('PATCH', `/v1/line-items/${margin.id}`, { name: 'Margin, 12 trackers' });
      const twelveMessage: string = twelve.warnings[0]?.message ?? '';
      assert.match(
        twelveMessage,
        /^impression trackers (\d+, ){9}\d+ and 2 more book hits without ancost at a media cost of 0/,
      );
      // Its pointer to a tracker's own warnings is to the first it names.
      const firstNamed = /^impression trackers (\d+),/.exec(twelveMessage)?.[1];
      assert.match(twelveMessage, new RegExp(`\\(GET /v1/impression-trackers/${firstNamed}\\) say why`));
      addTrackers(500 - 12);
      const many = await ok('PATCH', `/v1/line-items/${margin.id}`, { name: 'Margin, 500 trackers' });
      assert.match(many.warnings[0]?.message ?? '', / and 490 more \(of the first 500 looked at\) book hits/);
    });

    it("names in a line item's write warnings its own active trackers only, and in a payment rule's its publisher's", async () => {
      const tracked = async (terms: Awaited<ReturnType<typeof marginOnRevshare>>, state: string) =>
        (
          await create('/v1/impression-trackers', {
            advertiserId: terms.owner.id,
            name: `Zero-cost ${state}`,
            lineItemId: terms.margin.id,
            publisherId: terms.pub.id,
            state,
          })
        ).id as number;
      const mine = await marginOnRevshare();
      const own = await tracked(mine, 'active');
      await tracked(mine, 'inactive');
      const theirs = await marginOnRevshare();
      await tracked(theirs, 'active');
      const only = new RegExp(`^impression tracker ${own} books hits without ancost at a media cost of 0`);
      const lineItem = await ok('PATCH', `/v1/line-items/${mine.margin.id}`, { name: 'Margin, renamed' });
      assert.equal(lineItem.warnings.length, 1, JSON.stringify(lineItem.warnings));
      assert.match(lineItem.warnings[0].message, only);
      const rules = await ok('GET', `/v1/payment-rules?publisherId=${mine.pub.id}`);
      const rule = await ok('PATCH', `/v1/payment-rules/${rules.items[0].id}`, { name: 'Rule, renamed' });
      assert.equal(rule.warnings.length, 1, JSON.stringify(rule.warnings));
      assert.match(rule.warnings[0].message, only);
    });

    it("names in a line item's and a payment rule's write warnings the cpc line item's click trackers whose clicks are booked at 0, beside its impression trackers", async () => {
      const owner = await advertiser();
      const pub = await publisher();
      const base = await create('/v1/payment-rules', rule(pub.id as number, {}));
      // A price per click of 0: half of it is 0, on a click as on an impression (which earns nothing).
      const cpc = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'CPC at 0',
        revenueType: 'cpc',
        revenueValue: 0,
      });
      const body = { advertiserId: owner.id, lineItemId: cpc.id, publisherId: pub.id };
      const click = await create('/v1/click-trackers', { ...body, name: 'Click' });
      assert.deepEqual(warningCodes(click), ['zero_media_cost']);
      const clickOnly = new RegExp(
        `^click tracker ${click.id} books hits without ancost at a media cost of 0 as the terms now stand: each one's warnings \\(GET /v1/click-trackers/${click.id}\\) say why`,
      );
      const lineItem = await ok('PATCH', `/v1/line-items/${cpc.id}`, { name: 'CPC at 0, renamed' });
      assert.equal(lineItem.warnings.length, 1, JSON.stringify(lineItem.warnings));
      assert.equal(lineItem.warnings[0].code, 'trackers_priced_at_zero');
      assert.match(lineItem.warnings[0].message, clickOnly);
      const paymentRule = await ok('PATCH', `/v1/payment-rules/${base.id}`, { name: 'Base, renamed' });
      assert.match(paymentRule.warnings[0]?.message ?? '', clickOnly);

      const impression = await create('/v1/impression-trackers', { ...body, name: 'Impression' });
      const both = new RegExp(
        `^impression tracker ${impression.id} and click tracker ${click.id} book hits without ancost at a media cost of 0 as the terms now stand: each one's warnings \\(GET /v1/impression-trackers/${impression.id} or /v1/click-trackers/${click.id}\\) say why`,
      );
      const again = await ok('PATCH', `/v1/line-items/${cpc.id}`, { name: 'CPC at 0, again' });
      assert.match(again.warnings[0]?.message ?? '', both);
      const advertiserKey = keyFor('editor', { type: 'advertiser', id: owner.id as number }).key;
      const scoped = await as(advertiserKey, 'PATCH', `/v1/line-items/${cpc.id}`, { name: 'CPC, scoped' });
      assert.equal(scoped.status, 200, JSON.stringify(scoped.body));
      assert.deepEqual(scoped.body.warnings, [], 'a key shown no media cost is warned of none');
    });

    it("names in a payment rule's and a line item's write warnings no tracker whose own rule is not in effect while the publisher's rules pay for its hits", async () => {
      const owner = await advertiser();
      const pub = await publisher();
      const base = await create('/v1/payment-rules', rule(pub.id as number, {}));
      const own = await create('/v1/payment-rules', rule(pub.id as number, { name: 'Own', revshare: 0.3 }));
      const cpm = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'CPM 2',
        revenueType: 'cpm',
        revenueValue: 2,
      });
      const tracker = await create('/v1/impression-trackers', {
        advertiserId: owner.id,
        name: 'Own rule paused',
        lineItemId: cpm.id,
        publisherId: pub.id,
        paymentRuleId: own.id,
      });
      await ok('PATCH', `/v1/payment-rules/${own.id}`, { state: 'inactive' });
      // Its hits are priced by the base rule, half of a 2.00 CPM: not at 0.
      const read = await ok('GET', `/v1/impression-trackers/${tracker.id}`);
      assert.deepEqual(warningCodes(read), ['own_rule_not_in_effect']);
      const renamed = await ok('PATCH', `/v1/payment-rules/${base.id}`, { name: 'Base, renamed' });
      assert.deepEqual(renamed.warnings, []);
      const lineItem = await ok('PATCH', `/v1/line-items/${cpm.id}`, { name: 'CPM 2, renamed' });
      assert.deepEqual(lineItem.warnings, []);
    });

    it("gives a key scoped to the advertiser, which is shown no media cost, no pricing warnings, and the publisher's key them", async () => {
      const { owner, pub, margin } = await marginOnRevshare();
      const tracker = await create('/v1/impression-trackers', {
        advertiserId: owner.id,
        name: 'Zero-cost',
        lineItemId: margin.id,
        publisherId: pub.id,
      });
      assert.deepEqual(warningCodes(tracker), ['zero_media_cost']);
      const advertiserKey = keyFor('editor', { type: 'advertiser', id: owner.id as number }).key;
      const publisherKey = keyFor('reader', { type: 'publisher', id: pub.id as number }).key;
      const path = `/v1/impression-trackers/${tracker.id}`;
      assert.deepEqual((await as(advertiserKey, 'GET', path)).body.warnings, []);
      const listed = await as(advertiserKey, 'GET', `/v1/impression-trackers?lineItemId=${margin.id}`);
      assert.deepEqual(listed.body.items[0].warnings, []);
      const edited = await as(advertiserKey, 'PATCH', path, { name: 'Zero-cost, renamed' });
      assert.equal(edited.status, 200);
      assert.deepEqual(edited.body.warnings, []);
      const lineItem = await as(advertiserKey, 'PATCH', `/v1/line-items/${margin.id}`, { name: 'Margin 2' });
      assert.equal(lineItem.status, 200);
      assert.deepEqual(lineItem.body.warnings, []);
      assert.deepEqual(warningCodes(await ok('PATCH', `/v1/line-items/${margin.id}`, { name: 'Margin 3' })), [
        'trackers_priced_at_zero',
      ]);
      assert.deepEqual(warningCodes((await as(publisherKey, 'GET', path)).body), ['zero_media_cost']);
    });
  });

  describe('payment rules', () => {
    it('takes priorities 1 to 10 and says which pricing field each type still needs', async () => {
      const pub = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      for (const priority of [1, 10]) {
        assert.equal(
          (await create('/v1/payment-rules', rule(pub.id as number, { priority }))).priority,
          priority,
        );
      }
      await assertRefused(
        'POST',
        '/v1/payment-rules',
        rule(pub.id as number, { priority: 0 }),
        /priority: 0 is not valid: send an integer from 1 to 10/,
      );
      await assertRefused(
        'POST',
        '/v1/payment-rules',
        { publisherId: pub.id, name: 'Dynamic', pricingType: 'dynamic' },
        /revshare: required for pricingType dynamic: send the share as a fraction from 0 to 1.*maxRevshare: required for pricingType dynamic: send the highest share as a fraction from 0 to 1.*targetEcpm: required for pricingType dynamic: send an amount in currency units/,
      );
    });

    it('reports a pricing type it does not know alone, not the fields of the type that stands in for it', async () => {
      const pub = await publisher();
      const answer = await call('POST', '/v1/payment-rules', {
        publisherId: pub.id,
        name: 'Typo',
        pricingType: 'CPM',
        costCpm: 1,
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.match(answer.body.error.message, /fix this field: pricingType: "CPM" is not valid/);
      assert.doesNotMatch(answer.body.error.message, /required for|does not apply/);
    });

    it('reports an invalid share as invalid only, not also as missing', async () => {
      const pub = await publisher();
      const answer = await call('POST', '/v1/payment-rules', rule(pub.id as number, { revshare: 2 }));
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(
        answer.body.error.message,
        'the payment rule was not saved; fix this field: revshare: 2 is not valid: send a fraction from 0 to 1 with at most 6 decimals, e.g. 0.25 for 25 %, or null for none',
      );
    });

    it('applies the cost on default creatives to CPM rules only', async () => {
      const pub = await publisher();
      await assertRefused(
        'POST',
        '/v1/payment-rules',
        rule(pub.id as number, { applyCostOnDefault: true }),
        /applyCostOnDefault: applies to pricingType cpm only/,
      );
      const base = await create('/v1/payment-rules', rule(pub.id as number, {}));
      assert.equal(base.applyCostOnDefault, false);
    });

    it('takes a dynamic rule whose maxRevshare equals its revshare and refuses one below it', async () => {
      const pub = await publisher();
      const dynamic = { pricingType: 'dynamic', revshare: 0.4, targetEcpm: 1.5 };
      await assertRefused(
        'POST',
        '/v1/payment-rules',
        rule(pub.id as number, { ...dynamic, maxRevshare: 0.399999 }),
        /maxRevshare: must be at least revshare/,
      );
      const equal = await create(
        '/v1/payment-rules',
        rule(pub.id as number, { ...dynamic, maxRevshare: 0.4 }),
      );
      assert.deepEqual([equal.revshare, equal.maxRevshare, equal.targetEcpm], [0.4, 0.4, 1.5]);
    });

    it('warns, in the create and edit answers of a conditional rule whose endDate has passed, that it prices no hit and how to move the date, and not once the date is today', async () => {
      // Tally reads its own clock for today: started within 10 s of UTC midnight, the test waits
      // for the new day, so that both read the same one.
      const untilMidnightMs = 86_400_000 - (Date.now() % 86_400_000);
      if (untilMidnightMs < 10_000) await new Promise((resolve) => setTimeout(resolve, untilMidnightMs + 10));
      const pub = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      const today = new Date().toISOString().slice(0, 10);
      const ended = await create('/v1/payment-rules', rule(pub.id as number, { endDate: '2020-01-31' }));
      assert.deepEqual(ended.warnings, [
        {
          code: 'rule_ended',
          message: `payment rule ${ended.id} ended with 2020-01-31 (its endDate, through 24:00 UTC), before today, ${today}, so it prices no hit: move its endDate to today or later (PATCH /v1/payment-rules/${ended.id} {"endDate": "${today}"}), or send null for no end`,
        },
      ]);
      const renamed = await ok('PATCH', `/v1/payment-rules/${ended.id}`, { name: 'Still ended' });
      assert.deepEqual(warningCodes(renamed), ['rule_ended']);
      const moved = await ok('PATCH', `/v1/payment-rules/${ended.id}`, { endDate: today });
      assert.deepEqual(moved.warnings, []);
      const read = await ok('GET', `/v1/payment-rules/${ended.id}`);
      assert.equal(read.warnings, undefined);
    });

    it('says, of an ended conditional rule that is also inactive, to activate it as well as move its endDate', async () => {
      const pub = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      const ended = await create(
        '/v1/payment-rules',
        rule(pub.id as number, { endDate: '2020-01-31', state: 'inactive' }),
      );
      assert.deepEqual(warningCodes(ended), ['rule_ended']);
      assert.match(
        ended.warnings[0].message,
        /move its endDate to today or later and activate it \(PATCH \/v1\/payment-rules\/\d+ \{"endDate": "\d{4}-\d{2}-\d{2}", "state": "active"\}\)/,
      );
    });

    it('takes a rule of one day (endDate equal to startDate) and refuses one ending before it starts', async () => {
      const pub = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      const dates = { startDate: '2026-12-24', endDate: '2026-12-24' };
      const oneDay = await create('/v1/payment-rules', rule(pub.id as number, dates));
      assert.deepEqual([oneDay.startDate, oneDay.endDate], ['2026-12-24', '2026-12-24']);
      await assertRefused(
        'PATCH',
        `/v1/payment-rules/${oneDay.id}`,
        { endDate: '2026-12-23' },
        /endDate: must not be before startDate 2026-12-24/,
      );
    });
  });

  describe('trackers', () => {
    /**
     * A tracker's body naming a new advertiser, line item (`lineItemTerms`, no revenue unless
     * told) and publisher.
     */
    const trackerBody = async (
      name: string,
      lineItemTerms: Record<string, unknown> = { name: 'LI', revenueType: 'none' },
    ) => {
      const owner = await advertiser();
      const pub = await publisher();
      const lineItem = await create('/v1/line-items', { advertiserId: owner.id, ...lineItemTerms });
      return {
        advertiserId: owner.id as number,
        name,
        lineItemId: lineItem.id as number,
        publisherId: pub.id as number,
      };
    };

    it('takes a code of letters, digits and . _ ~ - that starts with a letter or digit, and refuses any other', async () => {
      const body = await trackerBody('T');
      const longest = `a${'b'.repeat(99)}`;
      for (const code of ['0a._~-z', longest]) {
        assert.equal((await create('/v1/impression-trackers', { ...body, code })).code, code);
      }
      for (const code of ['-lead', '.lead', '~lead', `${longest}c`, 'a/b', '']) {
        await assertRefused(
          'POST',
          '/v1/impression-trackers',
          { ...body, code },
          /code: .* is not valid: send 1 to 100 letters/,
        );
      }
    });

    it('gives no pricing warnings from a snapshot that does not yet hold the tracker as stored (a write from another process)', async () => {
      const { owner, pub, margin } = await marginOnRevshare();
      const cpm = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'CPM',
        revenueType: 'cpm',
        revenueValue: 2,
      });
      const body = { advertiserId: owner.id, name: 'T', lineItemId: margin.id, publisherId: pub.id };
      const tracker = await create('/v1/impression-trackers', body);
      assert.deepEqual(warningCodes(tracker), ['zero_media_cost']);
      // Another process moves it to the CPM line item: this server's snapshot learns of it at its next poll.
      const elsewhere = new SqliteCatalogStore(db);
      const moved = elsewhere.trackers.update(
        accountId,
        tracker.id as number,
        {
          ...body,
          lineItemId: cpm.id as number,
          kind: 'impression',
          code: null,
          placementId: null,
          paymentRuleId: null,
          state: 'active',
          clickUrl: null,
          firedBy: 'browser',
        },
        NOW_MS,
      );
      assert.equal(moved.ok, true);
      const read = await ok('GET', `/v1/impression-trackers/${tracker.id}`);
      assert.equal(read.lineItemId, cpm.id);
      assert.deepEqual(read.warnings, []);
    });

    it('fires an impression tracker from browsers unless it is set fired by an app, kept across PATCHes and a PUT of its answer, and set back by a PUT without it', async () => {
      const body = await trackerBody('T');
      const browser = await create('/v1/impression-trackers', body);
      assert.equal(browser.firedBy, 'browser');
      const app = await create('/v1/impression-trackers', { ...body, firedBy: 'app' });
      assert.equal(app.firedBy, 'app');
      const path = `/v1/impression-trackers/${app.id}`;
      assert.equal((await ok('PATCH', path, { name: 'renamed' })).firedBy, 'app');
      const answer = await ok('GET', path);
      assert.equal((await ok('PUT', path, answer)).firedBy, 'app');
      // A PUT replaces: firedBy left out takes its default, as every optional field does.
      assert.equal((await ok('PUT', path, body)).firedBy, 'browser');
      assert.equal((await ok('PATCH', path, { firedBy: 'app' })).firedBy, 'app');
      assert.equal((await ok('PATCH', path, { firedBy: 'browser' })).firedBy, 'browser');
      assert.equal(
        (await ok('PATCH', `/v1/impression-trackers/${browser.id}`, { firedBy: 'app' })).firedBy,
        'app',
      );
      const listed = await ok('GET', `/v1/impression-trackers?advertiserId=${body.advertiserId}`);
      assert.deepEqual(
        (listed.items as { id: number; firedBy: string }[]).map((tracker) => [tracker.id, tracker.firedBy]),
        [
          [browser.id, 'app'],
          [app.id, 'browser'],
        ],
      );
    });

    /** Asserts that a create in `collection`, and a PUT and a PATCH of `path`, with `body` are each refused so. */
    const assertEveryWriteRefused = async (
      collection: string,
      path: string,
      body: object,
      message: RegExp,
    ) => {
      for (const [method, target] of [
        ['POST', collection],
        ['PUT', path],
        ['PATCH', path],
      ] as const)
        await assertRefused(method, target, body, message);
    };

    it('refuses a firedBy other than "browser" or "app", naming both, and saves nothing', async () => {
      const body = await trackerBody('T');
      const tracker = await create('/v1/impression-trackers', { ...body, firedBy: 'app' });
      const path = `/v1/impression-trackers/${tracker.id}`;
      for (const firedBy of ['App', 'server', 'ctv', '', 1, true, ['app']]) {
        await assertEveryWriteRefused(
          '/v1/impression-trackers',
          path,
          { ...body, firedBy },
          /firedBy: .* is not valid: send one of "browser", "app"/,
        );
      }
      await assertRefused(
        'PATCH',
        path,
        { firedBy: null },
        /firedBy: cannot be null: send one of "browser", "app"/,
      );
      assert.equal((await ok('GET', path)).firedBy, 'app');
    });

    it('takes a click tracker fired by browsers by default, and one fired by an app (a VAST <ClickTracking>, an SDK’s native clicktrackers) as such', async () => {
      const body = await trackerBody('C');
      const click = await create('/v1/click-trackers', body);
      assert.equal(click.firedBy, 'browser');
      const app = await create('/v1/click-trackers', { ...body, firedBy: 'app' });
      assert.equal(app.firedBy, 'app');
      assert.equal((await ok('GET', `/v1/click-trackers/${app.id}`)).firedBy, 'app');
      const path = `/v1/click-trackers/${click.id}`;
      assert.equal((await ok('PATCH', path, { firedBy: 'app' })).firedBy, 'app');
      assert.equal((await ok('GET', path)).firedBy, 'app');
      await assertRefused(
        'PATCH',
        path,
        { firedBy: 'player' },
        /firedBy: .* is not valid: send one of "browser", "app"/,
      );
    });

    it('answers a click tracker with its warnings, and takes its answer sent back, warnings included', async () => {
      const body = await trackerBody('C');
      const click = await create('/v1/click-trackers', { ...body, clickUrl: 'https://landing.example/' });
      assert.deepEqual(click.warnings, []);
      const putBack = await ok('PUT', `/v1/click-trackers/${click.id}`, click);
      assert.deepEqual([putBack.clickUrl, putBack.warnings], ['https://landing.example/', []]);
    });

    it('answers 404 at the other kind’s path for a tracker, on a read, an edit or a delete, saying where that tracker is', async () => {
      const body = await trackerBody('T');
      const impression = await create('/v1/impression-trackers', body);
      const click = await create('/v1/click-trackers', { ...body, clickUrl: 'https://landing.example/' });
      const cases = [
        {
          path: `/v1/click-trackers/${impression.id}`,
          noun: 'click tracker',
          id: impression.id,
          is: 'an impression tracker, at /v1/impression-trackers',
        },
        {
          path: `/v1/impression-trackers/${click.id}`,
          noun: 'impression tracker',
          id: click.id,
          is: 'a click tracker, at /v1/click-trackers',
        },
      ];
      for (const { path, noun, id, is } of cases) {
        for (const [method, sent] of [
          ['GET'],
          ['PATCH', { name: 'R' }],
          ['PUT', body],
          ['DELETE'],
        ] as const) {
          const response = await call(method, path, sent);
          assert.equal(response.status, 404, `${method} ${path}`);
          assert.equal(response.body.error.code, 'NOT_FOUND');
          assert.equal(response.body.error.message, `${noun} ${id} not found: ${id} is ${is}/${id}`);
        }
      }
      // Nothing was changed or deleted through the wrong path.
      assert.equal((await ok('GET', `/v1/impression-trackers/${impression.id}`)).name, 'T');
      assert.equal((await ok('GET', `/v1/click-trackers/${click.id}`)).name, 'T');
    });
    it('warns on a tracker of either kind, to every key that reads it, that its hits do not count while its line item is inactive, until it is activated', async () => {
      const body = await trackerBody('T');
      const pause = (state: string) => ok('PATCH', `/v1/line-items/${body.lineItemId}`, { state });
      await pause('inactive');
      const impression = await create('/v1/impression-trackers', body);
      const click = await create('/v1/click-trackers', body);
      assert.deepEqual(warningCodes(impression), ['inactive_line_item', 'no_payment_rule']);
      assert.equal(
        impression.warnings[0].message,
        `line item ${body.lineItemId} is inactive, so this tracker's hits are recorded as inactive_line_item and not counted: activate the line item (PATCH /v1/line-items/${body.lineItemId} {"state": "active"}), or move the tracker to an active one`,
      );
      assert.deepEqual(warningCodes(click), ['inactive_line_item']);
      const advertiserKey = keyFor('reader', { type: 'advertiser', id: body.advertiserId }).key;
      const publisherKey = keyFor('reader', { type: 'publisher', id: body.publisherId }).key;
      for (const key of [advertiserKey, publisherKey]) {
        assert.deepEqual(warningCodes((await as(key, 'GET', `/v1/click-trackers/${click.id}`)).body), [
          'inactive_line_item',
        ]);
      }
      assert.deepEqual(
        warningCodes((await as(advertiserKey, 'GET', `/v1/impression-trackers/${impression.id}`)).body),
        ['inactive_line_item'],
      );
      await pause('active');
      assert.deepEqual(warningCodes(await ok('GET', `/v1/click-trackers/${click.id}`)), []);
      assert.deepEqual(warningCodes(await ok('GET', `/v1/impression-trackers/${impression.id}`)), [
        'no_payment_rule',
      ]);
    });

    /** A click tracker's body naming a new advertiser, cost-per-click line item and publisher (no payment rule). */
    const cpcClickBody = async (name: string) => ({
      ...(await trackerBody(name, { name: 'CPC', revenueType: 'cpc', revenueValue: 0.4 })),
      clickUrl: 'https://landing.example/',
    });
    it('warns on a click tracker of a cost-per-click line item, in its create, read, list and edit answers, that its clicks cost 0 while its publisher has no payment rule, until one pays a share', async () => {
      const body = await cpcClickBody('CPC click');
      const click = await create('/v1/click-trackers', body);
      assert.deepEqual(warningCodes(click), ['no_payment_rule']);
      assert.match(
        click.warnings[0].message,
        new RegExp(
          `^publisher ${body.publisherId} has no payment rule, so this tracker's clicks are booked with a media cost of 0 unless they carry ancost: add the publisher's base rule \\(POST \\/v1\\/payment-rules with publisherId ${body.publisherId}\\), a revshare or dynamic one`,
        ),
      );
      const answered = (CATALOG_OPENAPI_PATHS['/v1/click-trackers'] as Record<string, any>).post.responses[
        '201'
      ].content['application/json'].schema;
      assert.deepEqual(schemaProblems(click, answered, OPENAPI_DOCUMENT.components.schemas), []);
      const path = `/v1/click-trackers/${click.id}`;
      assert.deepEqual(warningCodes(await ok('GET', path)), ['no_payment_rule']);
      const listed = await ok('GET', `/v1/click-trackers?lineItemId=${body.lineItemId}`);
      assert.deepEqual(warningCodes(listed.items[0]), ['no_payment_rule']);
      assert.deepEqual(warningCodes(await ok('PATCH', path, { name: 'CPC click, renamed' })), [
        'no_payment_rule',
      ]);
      // Counting warnings come first, as on an impression tracker.
      await ok('PATCH', `/v1/line-items/${body.lineItemId}`, { state: 'inactive' });
      assert.deepEqual(warningCodes(await ok('GET', path)), ['inactive_line_item', 'no_payment_rule']);
      await ok('PATCH', `/v1/line-items/${body.lineItemId}`, { state: 'active' });
      await create('/v1/payment-rules', rule(body.publisherId, {}));
      assert.deepEqual((await ok('GET', path)).warnings, []);
      // A price per click of 0: half of it is 0, and so is the revenue.
      await ok('PATCH', `/v1/line-items/${body.lineItemId}`, { revenueValue: 0 });
      const free = await ok('GET', path);
      assert.deepEqual(warningCodes(free), ['zero_media_cost']);
      assert.match(
        free.warnings[0].message,
        /^clicks without ancost that payment rule \d+ \(Rule\) prices are booked with a media cost of 0 and a revenue of 0: .*its price per click is 0 \(revenueType cpc\)/,
      );
    });

    it('gives no pricing warning on a click tracker of a line item not priced per click, or under a cpm rule, which pays impressions only', async () => {
      const noRevenue = await trackerBody('C');
      assert.deepEqual((await create('/v1/click-trackers', noRevenue)).warnings, []);
      const body = await cpcClickBody('CPC click under a CPM');
      await create(
        '/v1/payment-rules',
        rule(body.publisherId, { pricingType: 'cpm', costCpm: 1, revshare: null }),
      );
      assert.deepEqual((await create('/v1/click-trackers', body)).warnings, []);
    });

    it("gives a key scoped to the advertiser, which is shown no media cost, no pricing warning on a click tracker, and the publisher's key them", async () => {
      const body = await cpcClickBody('CPC click');
      const advertiserKey = keyFor('editor', { type: 'advertiser', id: body.advertiserId }).key;
      const publisherKey = keyFor('reader', { type: 'publisher', id: body.publisherId }).key;
      const created = await as(advertiserKey, 'POST', '/v1/click-trackers', body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.warnings, []);
      const path = `/v1/click-trackers/${created.body.id}`;
      assert.deepEqual((await as(advertiserKey, 'GET', path)).body.warnings, []);
      const listed = await as(advertiserKey, 'GET', `/v1/click-trackers?lineItemId=${body.lineItemId}`);
      assert.deepEqual(listed.body.items[0].warnings, []);
      const edited = await as(advertiserKey, 'PATCH', path, { name: 'CPC click, renamed' });
      assert.equal(edited.status, 200);
      assert.deepEqual(edited.body.warnings, []);
      assert.deepEqual(warningCodes((await as(publisherKey, 'GET', path)).body), ['no_payment_rule']);
      assert.deepEqual(warningCodes(await ok('GET', path)), ['no_payment_rule']);
    });

    it('warns on a click tracker whose clickUrl the allow-list, enabled after it was saved, refuses, until the allow-list admits it', async () => {
      const body = await trackerBody('C');
      const click = await create('/v1/click-trackers', {
        ...body,
        clickUrl: 'https://old-landing.example/a',
      });
      const path = `/v1/click-trackers/${click.id}`;
      try {
        await ok('PUT', '/v1/account/redirect-allowlist', { enabled: true, domains: ['landing.example'] });
        const read = await ok('GET', path);
        assert.deepEqual(warningCodes(read), ['no_landing_page']);
        assert.match(
          read.warnings[0].message,
          /^its clickUrl cannot be redirected to \(the redirect host old-landing\.example is not on the account's redirect allow-list\), so a click without a redir the allow-list admits is answered 400, recorded as no_landing_page and not counted: change the clickUrl/,
        );
        await ok('PUT', '/v1/account/redirect-allowlist', {
          enabled: true,
          domains: ['landing.example', 'old-landing.example'],
        });
        assert.deepEqual((await ok('GET', path)).warnings, []);
      } finally {
        await ok('PUT', '/v1/account/redirect-allowlist', { enabled: false, domains: [] });
      }
    });
  });

  describe('publishers', () => {
    it('takes an externalId of 1 to 255 printable characters and keeps it on a rename', async () => {
      const longest = 'p'.repeat(255);
      const pub = await create('/v1/publishers', { name: 'Long', externalId: longest });
      assert.equal(pub.externalId, longest);
      const renamed = await call('PUT', `/v1/publishers/${pub.id}`, {
        name: 'Long renamed',
        externalId: longest,
      });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      for (const externalId of ['p'.repeat(256), '', 'tab\there', 'nul\u0000']) {
        await assertRefused(
          'POST',
          '/v1/publishers',
          { name: 'x', externalId },
          /externalId: .* is not valid/,
        );
      }
    });

    it('refuses an externalId beginning or ending with white space, which no exchange publisher.id would ever match, saying why', async () => {
      for (const externalId of ['pub-1 ', ' pub-1', 'pub-1\u00a0', '\u3000pub-1']) {
        await assertRefused(
          'POST',
          '/v1/publishers',
          { name: 'x', externalId },
          /externalId: .* is not valid: .*without white space at either end \(a win's publisher\.id is matched exactly\)/,
        );
      }
      const inner = await create('/v1/publishers', { name: 'Inner space', externalId: 'pub 1' });
      assert.equal(inner.externalId, 'pub 1');
    });
  });

  describe('redirect allow-list', () => {
    it('takes up to 1000 domains and refuses more, or an enabled that is not a boolean', async () => {
      const domains = Array.from({ length: 1000 }, (_, at) => `d${at}.example`);
      const saved = await call('PUT', '/v1/account/redirect-allowlist', { enabled: true, domains });
      assert.equal(saved.status, 200, JSON.stringify(saved.body).slice(0, 200));
      assert.equal(saved.body.domains.length, 1000);
      await assertRefused(
        'PUT',
        '/v1/account/redirect-allowlist',
        { enabled: true, domains: [...domains, 'one-more.example'] },
        /domains: send an array of at most 1000 host names/,
      );
      await assertRefused(
        'PUT',
        '/v1/account/redirect-allowlist',
        { enabled: 'yes', domains: [] },
        /enabled: "yes" is not valid: send true or false/,
      );
      // Switched off again: later tests create click trackers landing outside these domains.
      await ok('PUT', '/v1/account/redirect-allowlist', { enabled: false, domains: [] });
    });
  });

  describe('OpenAPI description', () => {
    type Operation = {
      parameters?: { name: string; schema: Record<string, unknown> }[];
      requestBody?: { content: Record<string, { schema: { properties: Record<string, any> } }> };
    };
    const documented = (path: string, method: string): Operation =>
      (CATALOG_OPENAPI_PATHS[path] as Record<string, Operation>)[method] ?? assert.fail(`${method} ${path}`);
    const RESOURCES = [
      'advertisers',
      'line-items',
      'publishers',
      'placements',
      'payment-rules',
      'impression-trackers',
      'click-trackers',
    ];

    it('documents the body fields and list filters of each resource as the API takes them', async () => {
      for (const resource of RESOURCES) {
        const path = `/v1/${resource}`;
        const post = await call('POST', path, { notAField: 1 });
        const fields = /the fields are ([^;]+?)(;|$)/.exec(post.body.error.message)?.[1]?.split(', ');
        const body = documented(path, 'post').requestBody?.content['application/json']?.schema.properties;
        const writable = Object.entries(body ?? {}).filter(([, schema]) => schema.readOnly !== true);
        assert.deepEqual(writable.map(([name]) => name).sort(), fields?.sort(), `${path} body fields`);
        const list = await call('GET', `${path}?notAFilter=1`);
        const filters = /use limit, after, ([^;]+)/.exec(list.body.error.message)?.[1]?.split(', ');
        const parameters = (documented(path, 'get').parameters ?? []).map((parameter) => parameter.name);
        assert.deepEqual(parameters.sort(), ['after', 'limit', ...(filters ?? [])].sort(), `${path} filters`);
      }
    });

    it('documents the page sizes the lists take and the defaults the API applies', async () => {
      for (const path of ['/v1/advertisers', '/v1/api-keys']) {
        const limit = documented(path, 'get').parameters?.find((parameter) => parameter.name === 'limit');
        const maximum = limit?.schema.maximum as number;
        const minimum = limit?.schema.minimum as number;
        assert.equal((await call('GET', `${path}?limit=${maximum}`)).status, 200, `${path} limit=${maximum}`);
        assert.equal((await call('GET', `${path}?limit=${maximum + 1}`)).status, 400, `${path} limit over`);
        assert.equal((await call('GET', `${path}?limit=${minimum}`)).status, 200, `${path} limit=${minimum}`);
        assert.equal((await call('GET', `${path}?limit=${minimum - 1}`)).status, 400, `${path} limit under`);
      }
      const keysLimit = documented('/v1/api-keys', 'get').parameters?.find(
        (parameter) => parameter.name === 'limit',
      );
      const keysDefault = keysLimit?.schema.default as number;
      const keys: unknown[] = (await ok('GET', `/v1/api-keys?limit=${keysLimit?.schema.maximum as number}`))
        .items;
      for (let count = keys.length; count <= keysDefault; count++) keyFor('reader');
      const firstKeys = await ok('GET', '/v1/api-keys');
      assert.equal(firstKeys.items.length, keysDefault, 'the documented default page of API keys');
      assert.notEqual(firstKeys.next, null);
      const listLimit = documented('/v1/advertisers', 'get').parameters?.find(
        (parameter) => parameter.name === 'limit',
      );
      const owner = await advertiser();
      for (let at = 0; at <= (listLimit?.schema.default as number); at++) {
        await create('/v1/line-items', { advertiserId: owner.id, name: `LI ${at}`, revenueType: 'none' });
      }
      const firstPage = await call('GET', `/v1/line-items?advertiserId=${owner.id}`);
      assert.equal(firstPage.body.items.length, listLimit?.schema.default);
      assert.notEqual(firstPage.body.next, null);

      const pub = await publisher();
      const base = await create('/v1/payment-rules', rule(pub.id as number, { name: 'Base' }));
      const rules = documented('/v1/payment-rules', 'post').requestBody?.content['application/json']?.schema;
      assert.equal(base.priority, rules?.properties.priority.default);
      assert.equal(base.state, rules?.properties.state.default);
    });
  });

  describe('bodies the catalog cannot read', () => {
    const withBody = Object.entries(CATALOG_OPENAPI_PATHS).flatMap(([path, item]) =>
      Object.entries(item as Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>)
        .filter(([, operation]) => operation.requestBody !== undefined)
        .map(([method, operation]) => ({
          method: method.toUpperCase(),
          path: path.replace('{id}', '1'),
          responses: operation.responses ?? {},
        })),
    );

    it('answers 415 to a body that is not JSON and 413 to one over 1 MiB on every catalog operation that takes a body, as documented', async () => {
      // POST, PUT and PATCH on the 7 resources, a new API key and the redirect allow-list.
      assert.equal(withBody.length, 23);
      for (const { method, path, responses } of withBody) {
        const send = async (contentType: string, body: string): Promise<number> => {
          const response = await fetch(`${url}${path}`, {
            method,
            headers: { authorization: `Bearer ${adminKey}`, 'content-type': contentType },
            body,
          });
          await response.arrayBuffer();
          return response.status;
        };
        assert.equal(await send('text/plain', '{}'), 415, `${method} ${path} text/plain`);
        assert.ok(responses['415'] !== undefined, `${method} ${path} documents 415`);
        const tooLarge = JSON.stringify({ name: 'x'.repeat(1024 * 1024) });
        assert.equal(await send('application/json', tooLarge), 413, `${method} ${path} over 1 MiB`);
        assert.ok(responses['413'] !== undefined, `${method} ${path} documents 413`);
      }
    });
  });

  describe('payment rules and their placements', () => {
    it('refuses placements of another publisher or none at all, naming each, and saves nothing', async () => {
      const pub = await publisher();
      const other = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      const own = await create('/v1/placements', { publisherId: pub.id, name: 'Own' });
      const theirs = await create('/v1/placements', { publisherId: other.id, name: 'Theirs' });
      const before = idsOf(await ok('GET', `/v1/payment-rules?publisherId=${pub.id}`));
      const refused = await call(
        'POST',
        '/v1/payment-rules',
        rule(pub.id as number, { placementIds: [own.id, theirs.id, 999_999] }),
      );
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
      assert.match(
        refused.body.error.message,
        new RegExp(
          `placementIds: publisher ${pub.id} has no placement ${theirs.id};.*placementIds: publisher ${pub.id} has no placement 999999;`,
        ),
      );
      assert.deepEqual(idsOf(await ok('GET', `/v1/payment-rules?publisherId=${pub.id}`)), before);
    });

    it('names the first entry of placementIds that is no id, however far into a long list it is', async () => {
      const pub = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      const slot = await create('/v1/placements', { publisherId: pub.id, name: 'Slot' });
      const placementIds: unknown[] = [...Array.from({ length: 40 }, () => slot.id), '7', 0];
      const refused = await call('POST', '/v1/payment-rules', rule(pub.id as number, { placementIds }));
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.match(
        refused.body.error.message,
        /placementIds: .* is not valid: send an array of at most 10000 numeric ids \(empty for none\): placementIds\[40\] is "7"$/,
      );
    });

    it('keeps a placement and a payment rule on their publisher for good', async () => {
      const pub = await publisher();
      const other = await publisher();
      const base = await create('/v1/payment-rules', rule(pub.id as number, {}));
      const slot = await create('/v1/placements', { publisherId: pub.id, name: 'Slot' });
      for (const [resource, id] of [
        ['placements', slot.id],
        ['payment-rules', base.id],
      ] as const) {
        const moved = await call('PATCH', `/v1/${resource}/${id}`, { publisherId: other.id });
        assert.equal(moved.status, 400, `${resource}: ${JSON.stringify(moved.body)}`);
        assert.match(moved.body.error.message, new RegExp(`belongs to publisher ${pub.id} for good`));
        assert.equal((await ok('GET', `/v1/${resource}/${id}`)).publisherId, pub.id);
      }
    });

    it('demotes only the same publisher’s base when a rule becomes the base, and keeps the base on a rename', async () => {
      const pub = await publisher();
      const neighbour = await publisher();
      const oldBase = await create('/v1/payment-rules', rule(pub.id as number, { name: 'Old base' }));
      const neighbourBase = await create(
        '/v1/payment-rules',
        rule(neighbour.id as number, { name: 'Theirs' }),
      );
      const renamed = await ok('PATCH', `/v1/payment-rules/${oldBase.id}`, { name: 'Old base, renamed' });
      assert.equal(renamed.isBase, true, 'a rename keeps the base rule the base');
      const promoted = await create(
        '/v1/payment-rules',
        rule(pub.id as number, { name: 'New', isBase: true }),
      );
      assert.equal(promoted.isBase, true);
      const demoted = await ok('GET', `/v1/payment-rules/${oldBase.id}`);
      assert.deepEqual([demoted.isBase, demoted.state], [false, 'inactive']);
      const untouched = await ok('GET', `/v1/payment-rules/${neighbourBase.id}`);
      assert.deepEqual(
        [untouched.isBase, untouched.state, untouched.updatedAt],
        [true, 'active', neighbourBase.updatedAt],
      );
    });

    it('refuses to delete a payment rule a tracker prices with, naming the tracker', async () => {
      const pub = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      const conditional = await create('/v1/payment-rules', rule(pub.id as number, { priority: 9 }));
      const owner = await advertiser();
      const lineItem = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'LI',
        revenueType: 'none',
      });
      const tracker = await create('/v1/impression-trackers', {
        advertiserId: owner.id,
        name: 'Priced',
        lineItemId: lineItem.id,
        publisherId: pub.id,
        paymentRuleId: conditional.id,
      });
      const refused = await call('DELETE', `/v1/payment-rules/${conditional.id}`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(
        refused.body.error.message,
        `payment rule ${conditional.id} still has 1 impression tracker (id ${tracker.id}); delete or move it first`,
      );
    });

    it('takes a conditional rule on a dozen placements, storing each once', async () => {
      const pub = await publisher();
      await create('/v1/payment-rules', rule(pub.id as number, {}));
      const placementIds: number[] = [];
      for (let at = 0; at < 12; at++) {
        placementIds.push(
          (await create('/v1/placements', { publisherId: pub.id, name: `Slot ${at}` })).id as number,
        );
      }
      const created = await create(
        '/v1/payment-rules',
        rule(pub.id as number, { placementIds: [...placementIds, placementIds[0]] }),
      );
      assert.deepEqual(created.placementIds, placementIds);
    });
  });

  describe('scoped keys, one object at a time', () => {
    it('lets an advertiser-scoped key read and edit its own line item by id, and answers 404 for another advertiser’s', async () => {
      const own = await advertiser();
      const other = await advertiser();
      // Ids of different tables may coincide; these must not, or an owner check reading the
      // wrong id would pass by chance.
      let ownItem = await create('/v1/line-items', {
        advertiserId: own.id,
        name: 'Own',
        revenueType: 'none',
      });
      while (ownItem.id === own.id) {
        ownItem = await create('/v1/line-items', { advertiserId: own.id, name: 'Own', revenueType: 'none' });
      }
      const otherItem = await create('/v1/line-items', {
        advertiserId: other.id,
        name: 'Theirs',
        revenueType: 'none',
      });
      for (const role of ['reader', 'editor'] as const) {
        const key = keyFor(role, { type: 'advertiser', id: own.id as number }).key;
        const read = await as(key, 'GET', `/v1/line-items/${ownItem.id}`);
        assert.equal(read.status, 200, `${role}: ${JSON.stringify(read.body)}`);
        assert.equal(read.body.advertiserId, own.id);
        const hidden = await as(key, 'GET', `/v1/line-items/${otherItem.id}`);
        assert.equal(hidden.status, 404, `${role}: ${JSON.stringify(hidden.body)}`);
        assert.equal(hidden.body.error.code, 'NOT_FOUND');
      }
      const editor = keyFor('editor', { type: 'advertiser', id: own.id as number }).key;
      const renamed = await as(editor, 'PATCH', `/v1/line-items/${ownItem.id}`, { name: 'Own renamed' });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const theirs = await as(editor, 'PATCH', `/v1/line-items/${otherItem.id}`, { name: 'Taken' });
      assert.equal(theirs.status, 404, JSON.stringify(theirs.body));
      assert.equal((await as(editor, 'DELETE', `/v1/line-items/${otherItem.id}`)).status, 404);
      assert.equal((await ok('GET', `/v1/line-items/${otherItem.id}`)).name, 'Theirs');
    });

    it('lets a publisher-scoped key read and edit its own placement and payment rule by id, and answers 404 for another publisher’s', async () => {
      const own = await publisher();
      const other = await publisher();
      const objects = async (publisherId: number) => {
        const base = await create('/v1/payment-rules', rule(publisherId, { name: 'Base' }));
        let slot = await create('/v1/placements', { publisherId, name: 'Slot' });
        while (slot.id === publisherId) slot = await create('/v1/placements', { publisherId, name: 'Slot' });
        return { 'payment-rules': base.id as number, placements: slot.id as number };
      };
      const mine = await objects(own.id as number);
      const theirs = await objects(other.id as number);
      assert.notEqual(mine['payment-rules'], own.id);
      const key = keyFor('editor', { type: 'publisher', id: own.id as number }).key;
      for (const resource of ['placements', 'payment-rules'] as const) {
        const read = await as(key, 'GET', `/v1/${resource}/${mine[resource]}`);
        assert.equal(read.status, 200, `${resource}: ${JSON.stringify(read.body)}`);
        const renamed = await as(key, 'PATCH', `/v1/${resource}/${mine[resource]}`, { name: 'Renamed' });
        assert.equal(renamed.status, 200, `${resource}: ${JSON.stringify(renamed.body)}`);
        for (const method of ['GET', 'PATCH', 'DELETE']) {
          const hidden = await as(
            key,
            method,
            `/v1/${resource}/${theirs[resource]}`,
            method === 'PATCH' ? { name: 'Taken' } : undefined,
          );
          assert.equal(hidden.status, 404, `${method} ${resource}: ${JSON.stringify(hidden.body)}`);
        }
        const untouched = resource === 'placements' ? 'Slot' : 'Base';
        assert.equal((await ok('GET', `/v1/${resource}/${theirs[resource]}`)).name, untouched);
      }
    });
  });

  describe('list filters', () => {
    it('filters line items by revenue type, payment rules by pricing type and trackers by each reference', async () => {
      const owner = await advertiser();
      const cpm = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'CPM',
        revenueType: 'cpm',
        revenueValue: 1,
      });
      const share = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'Share',
        revenueType: 'revshare',
        revenueValue: 0.2,
      });
      const byType = (type: string) =>
        ok('GET', `/v1/line-items?advertiserId=${owner.id}&revenueType=${type}`).then(idsOf);
      assert.deepEqual(await byType('cpm'), [cpm.id]);
      assert.deepEqual(await byType('revshare'), [share.id]);
      assert.deepEqual(await byType('none'), []);

      const pub = await publisher();
      const base = await create('/v1/payment-rules', rule(pub.id as number, { name: 'Base' }));
      const slot = await create('/v1/placements', { publisherId: pub.id, name: 'Top' });
      const cpmRule = await create('/v1/payment-rules', {
        publisherId: pub.id,
        name: 'CPM',
        pricingType: 'cpm',
        costCpm: 1,
        placementIds: [slot.id],
      });
      const byPricing = (type: string) =>
        ok('GET', `/v1/payment-rules?publisherId=${pub.id}&pricingType=${type}`).then(idsOf);
      assert.deepEqual(await byPricing('revshare'), [base.id]);
      assert.deepEqual(await byPricing('cpm'), [cpmRule.id]);

      const tracker = (fields: object) =>
        create('/v1/impression-trackers', {
          advertiserId: owner.id,
          name: 'T',
          lineItemId: cpm.id,
          publisherId: pub.id,
          ...fields,
        });
      const plain = await tracker({});
      const placed = await tracker({ placementId: slot.id });
      const priced = await tracker({ paymentRuleId: cpmRule.id, lineItemId: share.id, state: 'inactive' });
      const coded = await tracker({ code: 'audit-filter-code' });
      const list = (query: string) =>
        ok('GET', `/v1/impression-trackers?publisherId=${pub.id}&${query}`).then(idsOf);
      assert.deepEqual(await list(`placementId=${slot.id}`), [placed.id]);
      assert.deepEqual(await list(`paymentRuleId=${cpmRule.id}`), [priced.id]);
      assert.deepEqual(await list(`lineItemId=${share.id}`), [priced.id]);
      assert.deepEqual(await list('state=inactive'), [priced.id]);
      assert.deepEqual(await list('state=active'), [plain.id, placed.id, coded.id]);
      assert.deepEqual(await list('code=audit-filter-code'), [coded.id]);
    });
  });

  describe('tracker references', () => {
    it('names a missing advertiser as the problem, not the line item it cannot have', async () => {
      const owner = await advertiser();
      const lineItem = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'LI',
        revenueType: 'none',
      });
      const pub = await publisher();
      const refused = await call('POST', '/v1/impression-trackers', {
        advertiserId: 999_999,
        name: 'T',
        lineItemId: lineItem.id,
        publisherId: pub.id,
      });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.match(refused.body.error.message, /fix this field: advertiserId: there is no advertiser 999999/);
    });
  });

  describe('timestamps', () => {
    it('answers a new object with updatedAt equal to createdAt, and an edit moves updatedAt alone', async () => {
      const owner = await create('/v1/advertisers', { name: 'Stamped' });
      assert.equal(owner.updatedAt, owner.createdAt);
      await new Promise((resolve) => setTimeout(resolve, 15));
      const renamed = await ok('PATCH', `/v1/advertisers/${owner.id}`, { name: 'Stamped again' });
      assert.equal(renamed.createdAt, owner.createdAt);
      assert.ok(renamed.updatedAt > owner.updatedAt, `${renamed.updatedAt} after ${owner.updatedAt}`);
      assert.deepEqual(await ok('GET', `/v1/advertisers/${owner.id}`), renamed);
    });
  });

  describe('PATCH keeps what it does not name', () => {
    /** The fields a rename leaves alone: all but `name` and `updatedAt`. */
    const withoutEdited = (value: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(value).filter(([field]) => field !== 'name' && field !== 'updatedAt'),
      );

    it('keeps an advertiser’s and a placement’s name on an empty PATCH', async () => {
      const owner = await create('/v1/advertisers', { name: 'Kept advertiser' });
      assert.equal((await ok('PATCH', `/v1/advertisers/${owner.id}`, {})).name, 'Kept advertiser');
      const pub = await publisher();
      const slot = await create('/v1/placements', { publisherId: pub.id, name: 'Kept slot' });
      assert.equal((await ok('PATCH', `/v1/placements/${slot.id}`, {})).name, 'Kept slot');
    });

    it('keeps a payment rule’s priority, dates, placements and cost on default creatives on a rename', async () => {
      const pub = await publisher();
      await create('/v1/payment-rules', {
        publisherId: pub.id,
        name: 'Base',
        pricingType: 'cpm',
        costCpm: 1,
        applyCostOnDefault: true,
      });
      const slot = await create('/v1/placements', { publisherId: pub.id, name: 'Top' });
      const conditional = await create('/v1/payment-rules', {
        publisherId: pub.id,
        name: 'Top in December',
        pricingType: 'cpm',
        costCpm: 2,
        applyCostOnDefault: true,
        priority: 8,
        startDate: '2026-12-01',
        endDate: '2026-12-31',
        placementIds: [slot.id],
      });
      const renamed = await ok('PATCH', `/v1/payment-rules/${conditional.id}`, { name: 'Renamed' });
      assert.equal(renamed.name, 'Renamed');
      const now = withoutEdited(renamed);
      assert.deepEqual(now, withoutEdited(conditional));
      assert.equal(now.applyCostOnDefault, true);
      assert.equal(now.priority, 8);
    });

    it('keeps a click tracker’s code, line item, placement, payment rule and click URL on a rename', async () => {
      const owner = await advertiser();
      const lineItem = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'LI',
        revenueType: 'cpm',
        revenueValue: 1,
      });
      await create('/v1/line-items', { advertiserId: owner.id, name: 'Other', revenueType: 'none' });
      const pub = await publisher();
      const base = await create('/v1/payment-rules', rule(pub.id as number, { name: 'Base' }));
      const slot = await create('/v1/placements', { publisherId: pub.id, name: 'Top' });
      const tracker = await create('/v1/click-trackers', {
        advertiserId: owner.id,
        name: 'Click',
        code: 'audit-kept-code',
        lineItemId: lineItem.id,
        publisherId: pub.id,
        placementId: slot.id,
        paymentRuleId: base.id,
        clickUrl: 'https://landing.example/page',
      });
      const renamed = await ok('PATCH', `/v1/click-trackers/${tracker.id}`, { name: 'Renamed' });
      assert.equal(renamed.name, 'Renamed');
      assert.deepEqual(withoutEdited(renamed), withoutEdited(tracker));
    });
  });

  describe('API keys: names, revoked keys, scopes', () => {
    it('asks for a name of a new key and answers where the key now lives', async () => {
      const unnamed = await call('POST', '/v1/api-keys', { role: 'reader' });
      assert.equal(unnamed.status, 400, JSON.stringify(unnamed.body));
      assert.match(unnamed.body.error.message, /name: required/);
      const named = await call('POST', '/v1/api-keys', { name: 'located', role: 'reader' });
      assert.equal(named.status, 201, JSON.stringify(named.body));
      assert.equal(named.headers.get('location'), `/v1/api-keys/${named.body.id}`);
      assert.equal((await ok('GET', `/v1/api-keys/${named.body.id}`)).name, 'located');
    });

    it('still answers a revoked key, with when it was revoked, and revokes it again as a no-op', async () => {
      const created = await create('/v1/api-keys', { name: 'short-lived', role: 'reader' });
      assert.equal((await call('DELETE', `/v1/api-keys/${created.id}`)).status, 204);
      const revoked = await ok('GET', `/v1/api-keys/${created.id}`);
      assert.equal(typeof revoked.revokedAt, 'string');
      assert.equal((await call('DELETE', `/v1/api-keys/${created.id}`)).status, 204);
      assert.equal((await ok('GET', `/v1/api-keys/${created.id}`)).revokedAt, revoked.revokedAt);
      assert.equal((await as(created.key as string, 'GET', '/v1/advertisers')).status, 401);
    });

    it('revokes a revoked admin key again as a no-op while another admin key is the last one', async () => {
      const spare = keyFor('admin');
      assert.equal((await call('DELETE', `/v1/api-keys/${spare.id}`)).status, 204);
      const again = await call('DELETE', `/v1/api-keys/${spare.id}`);
      assert.equal(again.status, 204, JSON.stringify(again.body));
      assert.equal(
        (await as(adminKey, 'GET', '/v1/api-keys?limit=1')).status,
        200,
        'the last one still works',
      );
    });

    it('takes scope: null as an account-wide key', async () => {
      const created = await create('/v1/api-keys', { name: 'wide', role: 'reader', scope: null });
      assert.equal(created.scope, null);
      assert.equal(typeof created.key, 'string');
      const readable = await as(created.key as string, 'GET', '/v1/publishers?limit=1');
      assert.equal(readable.status, 200, JSON.stringify(readable.body));
    });
  });

  describe('the redirect allow-list: scoped keys and host names', () => {
    it('is neither read nor changed by a scoped key, whatever its role', async () => {
      const path = '/v1/account/redirect-allowlist';
      const stored = await ok('PUT', path, { enabled: true, domains: ['kept.example'] });
      const owner = await advertiser();
      const pub = await publisher();
      for (const scope of [
        { type: 'advertiser', id: owner.id as number },
        { type: 'publisher', id: pub.id as number },
      ] as const) {
        const key = keyFor('admin', scope).key;
        const read = await as(key, 'GET', path);
        assert.equal(read.status, 403, `${scope.type}: ${JSON.stringify(read.body)}`);
        const changed = await as(key, 'PUT', path, { enabled: false, domains: [] });
        assert.equal(changed.status, 403, `${scope.type}: ${JSON.stringify(changed.body)}`);
        assert.equal(changed.body.error.code, 'FORBIDDEN');
      }
      assert.deepEqual(await ok('GET', path), stored);
    });

    it('takes host names of up to 253 characters without wildcards, and no domains as none', async () => {
      const path = '/v1/account/redirect-allowlist';
      const name = (last: number) =>
        `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(last)}`;
      assert.equal(name(61).length, 253);
      assert.deepEqual((await ok('PUT', path, { enabled: true, domains: [name(61)] })).domains, [name(61)]);
      for (const domain of [name(62), '*.example.com']) {
        const refused = await call('PUT', path, { enabled: true, domains: [domain] });
        assert.equal(refused.status, 400, `${domain}: ${JSON.stringify(refused.body)}`);
        assert.match(refused.body.error.message, /domains: .* is not a host name/);
      }
      assert.deepEqual(await ok('PUT', path, { enabled: false }), {
        enabled: false,
        domains: [],
        warnings: [],
      });
    });

    it('refuses enabled: null, which would switch the allow-list off, and keeps what it had', async () => {
      const path = '/v1/account/redirect-allowlist';
      const stored = await ok('PUT', path, { enabled: true, domains: ['kept.example'] });
      await assertRefused(
        'PUT',
        path,
        { enabled: null, domains: ['kept.example'] },
        /^.*enabled: cannot be null: send true or false$/,
      );
      assert.deepEqual(await ok('GET', path), stored);
      await ok('PUT', path, { enabled: false, domains: [] });
    });

    it('asks for an international domain name in punycode, spelling it', async () => {
      await assertRefused(
        'PUT',
        '/v1/account/redirect-allowlist',
        { enabled: true, domains: ['Bücher.example'] },
        /domains: "Bücher\.example" is not in ASCII; send an international domain name in punycode: "xn--bcher-kva\.example"/,
      );
    });

    it('replaces the domains and the switch on each PUT, and answers what it stored', async () => {
      const path = '/v1/account/redirect-allowlist';
      const first = await ok('PUT', path, { enabled: true, domains: ['first.example'] });
      assert.deepEqual([first.enabled, first.domains], [true, ['first.example']]);
      const second = { enabled: false, domains: ['second.example', 'third.example'] };
      assert.deepEqual(await ok('PUT', path, second), { ...second, warnings: [] });
      assert.deepEqual(await ok('GET', path), { ...second, warnings: [] });
    });

    it('warns, naming them and their hosts, of the active click trackers whose clickUrl it refuses, in what a PUT and a GET answer, and takes an answer sent back', async () => {
      const path = '/v1/account/redirect-allowlist';
      await ok('PUT', path, { enabled: false, domains: [] });
      const owner = await advertiser();
      const pub = await publisher();
      const lineItem = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'LI',
        revenueType: 'none',
      });
      const click = (clickUrl: string | null, state = 'active') =>
        create('/v1/click-trackers', {
          advertiserId: owner.id,
          name: 'C',
          lineItemId: lineItem.id,
          publisherId: pub.id,
          clickUrl,
          state,
        });
      const kept = await click('https://www.shop.example/a');
      const gone = await click('https://old-shop.example/b');
      const alsoGone = await click('https://old-shop.example/c');
      await click('https://paused.example/d', 'inactive');
      await click(null);
      // Every other click tracker of the account stays admitted: only these are named.
      const others = (await ok('GET', '/v1/click-trackers?limit=500')).items as { clickUrl: string | null }[];
      const otherHosts = [
        ...new Set(
          others.flatMap((tracker) =>
            tracker.clickUrl === null ? [] : [new URL(tracker.clickUrl).hostname],
          ),
        ),
      ].filter((host) => !['www.shop.example', 'old-shop.example', 'paused.example'].includes(host));
      const allowlist = { enabled: true, domains: ['shop.example', ...otherHosts] };
      const saved = await ok('PUT', path, allowlist);
      try {
        assert.deepEqual(warningCodes(saved), ['click_urls_refused']);
        assert.equal(
          saved.warnings[0].message,
          `click trackers ${gone.id}, ${alsoGone.id} have clickUrls this allow-list refuses (host old-shop.example), so a click on them without a redir the allow-list admits is answered 400, recorded as no_landing_page and not counted: add the host to domains, or change their clickUrls (PATCH /v1/click-trackers/${gone.id} {"clickUrl": "https://…"})`,
        );
        assert.doesNotMatch(saved.warnings[0].message, new RegExp(`\\b${kept.id}\\b`));
        assert.deepEqual(await ok('GET', path), saved);
        assert.deepEqual(await ok('PUT', path, saved), saved);
        const admitted = await ok('PUT', path, {
          ...allowlist,
          domains: [...allowlist.domains, 'old-shop.example'],
        });
        assert.deepEqual(admitted.warnings, []);
      } finally {
        await ok('PUT', path, { enabled: false, domains: [] });
      }
    });
  });

  describe('path ids', () => {
    it('answers 404 for an id written with a leading zero: each object has one path', async () => {
      const owner = await advertiser();
      assert.equal((await call('GET', `/v1/advertisers/${owner.id}`)).status, 200);
      for (const method of ['GET', 'PATCH', 'DELETE']) {
        const aliased = await call(
          method,
          `/v1/advertisers/0${owner.id}`,
          method === 'PATCH' ? {} : undefined,
        );
        assert.equal(aliased.status, 404, `${method}: ${JSON.stringify(aliased.body)}`);
        assert.equal(aliased.body.error.code, 'NOT_FOUND');
      }
      assert.equal((await call('GET', `/v1/advertisers/${owner.id}`)).body.name, 'Adv');
    });

    it('says how an id is written when the path holds none: a leading zero, a sign, a decimal, a space', async () => {
      const owner = await advertiser();
      for (const written of [`0${owner.id}`, `+${owner.id}`, `${owner.id}.0`, `%20${owner.id}`, 'abc']) {
        const refused = await call('GET', `/v1/advertisers/${written}`);
        assert.equal(refused.status, 404, written);
        assert.deepEqual(
          [refused.body.error.code, refused.body.error.message],
          [
            'NOT_FOUND',
            `advertiser ${JSON.stringify(decodeURIComponent(written))} not found: ` +
              'an id is a whole number from 1, written without leading zeros or a sign',
          ],
        );
      }
      // An id written as one that no object has is not found, as it stands.
      const missing = await call('GET', '/v1/advertisers/999999');
      assert.equal(missing.body.error.message, 'advertiser 999999 not found');
    });
  });

  describe('deleting what a click tracker uses', () => {
    it('refuses to delete a line item that only a click tracker uses, naming the click tracker', async () => {
      const owner = await advertiser();
      const lineItem = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'Clicks only',
        revenueType: 'none',
      });
      const pub = await publisher();
      const click = await create('/v1/click-trackers', {
        advertiserId: owner.id,
        name: 'Click',
        lineItemId: lineItem.id,
        publisherId: pub.id,
      });
      const refused = await call('DELETE', `/v1/line-items/${lineItem.id}`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(
        refused.body.error.message,
        `line item ${lineItem.id} still has 1 click tracker (id ${click.id}); delete or move it first`,
      );
      assert.equal((await call('DELETE', `/v1/click-trackers/${click.id}`)).status, 204);
      assert.equal((await call('DELETE', `/v1/line-items/${lineItem.id}`)).status, 204);
    });
  });
});
