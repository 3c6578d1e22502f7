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
import type { KeyScope, Role } from '../../ports/accounts.js';
import { newApiKey } from '../auth.js';
import { catalogRoutes } from './index.js';
import { CATALOG_OPENAPI_PATHS } from './openapi.js';

const NOW_MS = Date.UTC(2026, 10, 22);

describe('catalog routes', () => {
  let dir: string;
  let db: Database.Database;
  let server: ApiServer;
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
  const create = async (path: string, body: unknown): Promise<Record<string, any>> => {
    const response = await call('POST', path, body);
    assert.equal(response.status, 201, `${path}: ${JSON.stringify(response.body)}`);
    return response.body as Record<string, any>;
  };
  /** Asserts a 400 whose message matches `problem`. */
  const assertRefused = async (method: string, path: string, body: unknown, problem: RegExp) => {
    const response = await call(method, path, body);
    assert.equal(response.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.code, 'VALIDATION_FAILED');
    assert.match(response.body.error.message, problem);
  };
  const advertiser = () => create('/v1/advertisers', { name: 'Adv' });
  const publisher = () => create('/v1/publishers', { name: 'Pub' });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tally-catalog-routes-'));
    db = openSqlite(join(dir, 'tally.db'));
    accounts = new SqliteAccountStore(db);
    accountId = accounts.createAccount('A', NOW_MS).id;
    ({ key: adminKey, id: adminKeyId } = keyFor('admin'));
    server = await serveApi(catalogRoutes(new SqliteCatalogStore(db), accounts), accounts);
    url = server.base;
  });
  after(async () => {
    await server.close();
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

    it('scopes a new key to an advertiser or publisher of the account, checking the id among that kind only', async () => {
      const owner = await advertiser();
      assert.equal((await call('GET', `/v1/publishers/${owner.id}`)).status, 404, 'no publisher has that id');
      await assertRefused(
        'POST',
        '/v1/api-keys',
        { name: 'k', role: 'reader', scope: { type: 'publisher', id: owner.id } },
        new RegExp(`scope: there is no publisher ${owner.id} in this account`),
      );
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
      assert.ok(all.length >= 3);
      const seen: number[] = [];
      let next: number | null = null;
      do {
        const page: { status: number; body: any } = await call(
          'GET',
          `/v1/api-keys?limit=2${next === null ? '' : `&after=${next}`}`,
        );
        assert.equal(page.status, 200);
        assert.ok(page.body.items.length <= 2);
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
        `advertiser ${owner.id} still has 10 line items (ids ${ids.join(', ')}); delete or move them first`,
      );
      await addLineItem();
      const refused = await call('DELETE', `/v1/advertisers/${owner.id}`);
      assert.equal(refused.status, 409);
      assert.equal(
        refused.body.error.message,
        `advertiser ${owner.id} still has 11 line items (ids ${ids.slice(0, 10).join(', ')} and 1 more); delete or move them first`,
      );
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
  });

  describe('payment rules', () => {
    const rule = (publisherId: number, fields: object) => ({
      publisherId,
      name: 'Rule',
      pricingType: 'revshare',
      revshare: 0.5,
      ...fields,
    });

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
    it('takes a code of letters, digits and . _ ~ - that starts with a letter or digit, and refuses any other', async () => {
      const owner = await advertiser();
      const pub = await publisher();
      const lineItem = await create('/v1/line-items', {
        advertiserId: owner.id,
        name: 'LI',
        revenueType: 'none',
      });
      const body = { advertiserId: owner.id, name: 'T', lineItemId: lineItem.id, publisherId: pub.id };
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
        assert.equal((await call('GET', `${path}?limit=${maximum}`)).status, 200, `${path} limit=${maximum}`);
        assert.equal((await call('GET', `${path}?limit=${maximum + 1}`)).status, 400, `${path} limit over`);
      }
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
      const base = await create('/v1/payment-rules', {
        publisherId: pub.id,
        name: 'Base',
        pricingType: 'revshare',
        revshare: 0.5,
      });
      const rules = documented('/v1/payment-rules', 'post').requestBody?.content['application/json']?.schema;
      assert.equal(base.priority, rules?.properties.priority.default);
      assert.equal(base.state, rules?.properties.state.default);
    });
  });
});
