import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestServer } from '../support/server.js';
import { api, startServer } from '../support/server.js';

describe('catalog REST API', () => {
  let server: TestServer;
  /** Calls the API with the admin key. */
  const call = (method: string, path: string, body?: unknown) =>
    api(server, server.adminKey, method, path, body);
  /** Creates an object, asserting 201, and answers it. */
  const create = async (path: string, body: unknown): Promise<Record<string, any>> => {
    const response = await call('POST', path, body);
    assert.equal(response.status, 201, JSON.stringify(response.body));
    assert.equal(typeof response.body.id, 'number');
    assert.equal(response.headers.get('location'), `${path}/${response.body.id}`);
    return response.body as Record<string, any>;
  };
  /** An advertiser with a CPM line item, and a publisher. */
  const chain = async () => {
    const advertiser = await create('/v1/advertisers', { name: 'Chain advertiser' });
    const lineItem = await create('/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'Chain line item',
      revenueType: 'cpm',
      revenueValue: 2,
    });
    const publisher = await create('/v1/publishers', { name: 'Chain publisher' });
    return { advertiser, lineItem, publisher };
  };

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('creates, reads, renames, replaces and deletes an advertiser', async () => {
    const advertiser = await create('/v1/advertisers', { name: '  Acme  ' });
    assert.equal(advertiser.name, 'Acme');
    assert.ok(
      !Number.isNaN(Date.parse(advertiser.createdAt)),
      `createdAt is a date-time: ${advertiser.createdAt}`,
    );
    assert.deepEqual((await call('GET', `/v1/advertisers/${advertiser.id}`)).body, advertiser);
    const renamed = await call('PATCH', `/v1/advertisers/${advertiser.id}`, { name: 'Acme Inc' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'Acme Inc');
    // PUT takes back what GET answered, read-only fields included.
    const replaced = await call('PUT', `/v1/advertisers/${advertiser.id}`, {
      ...renamed.body,
      name: 'Acme SA',
    });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal(replaced.body.name, 'Acme SA');
    const deleted = await call('DELETE', `/v1/advertisers/${advertiser.id}`);
    assert.equal(deleted.status, 204);
    assert.equal((await call('GET', `/v1/advertisers/${advertiser.id}`)).status, 404);
    assert.equal((await call('DELETE', `/v1/advertisers/${advertiser.id}`)).status, 404);
  });

  it('stores line item revenue values as exact decimals: CPMs and prices per click in currency, margins and shares as fractions', async () => {
    const { advertiser } = await chain();
    const cases = [
      { revenueType: 'cpm', revenueValue: 2.5, expected: 2.5 },
      { revenueType: 'cost_plus_cpm', revenueValue: '0.000001', expected: 0.000001 },
      { revenueType: 'cost_plus_margin', revenueValue: 0.25, expected: 0.25 },
      { revenueType: 'cpc', revenueValue: '0.35', expected: 0.35 },
      { revenueType: 'revshare', revenueValue: 1, expected: 1 },
      { revenueType: 'none', revenueValue: undefined, expected: 0 },
    ];
    for (const { revenueType, revenueValue, expected } of cases) {
      const lineItem = await create('/v1/line-items', {
        advertiserId: advertiser.id,
        name: revenueType,
        revenueType,
        revenueValue,
      });
      assert.equal(lineItem.revenueValue, expected, revenueType);
      assert.equal(lineItem.state, 'active');
    }
    const tooLarge = await call('POST', '/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'share',
      revenueType: 'revshare',
      revenueValue: 1.5,
    });
    assert.equal(tooLarge.status, 400);
    assert.match(tooLarge.body.error.message, /revenueValue: .*fraction from 0 to 1/);
    const missing = await call('POST', '/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'x',
      revenueType: 'cpm',
    });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /revenueValue: required for cpm/);
    // One problem each, not a second, contradicting one from the rules across the two fields.
    for (const [body, problem] of [
      // Xandr's cost per acquisition: Tally has no conversions to bill.
      [{ revenueType: 'cpa', revenueValue: 2 }, /fix this field: revenueType: "cpa" is not valid/],
      [{ revenueType: 'cpm', revenueValue: 1e300 }, /fix this field: revenueValue: 1e\+300 is not valid/],
      [{ revenueType: 'revshare', revenueValue: 1.5 }, /fix this field: revenueValue: 1.5 is not valid/],
    ] as const) {
      const refused = await call('POST', '/v1/line-items', {
        advertiserId: advertiser.id,
        name: 'x',
        ...body,
      });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error.message, problem);
    }
    const longName = await call('POST', '/v1/advertisers', {
      name: 'n'.repeat(100_000),
      [`${'k'.repeat(5000)}`]: 1,
    });
    assert.equal(longName.status, 400);
    assert.match(longName.body.error.message, /name: "n{63}… \(100000 characters\) is not valid/);
    assert.ok(
      longName.body.error.message.length < 600,
      `a ${longName.body.error.message.length}-character message`,
    );
  });

  it('asks for a new revenue value when a line item changes revenue type, and never moves it to another advertiser', async () => {
    const { advertiser, lineItem } = await chain();
    const other = await create('/v1/advertisers', { name: 'Other' });
    const typeOnly = await call('PATCH', `/v1/line-items/${lineItem.id}`, { revenueType: 'revshare' });
    assert.equal(typeOnly.status, 400);
    assert.match(typeOnly.body.error.message, /revenueValue: required for revshare/);
    const both = await call('PATCH', `/v1/line-items/${lineItem.id}`, {
      revenueType: 'revshare',
      revenueValue: 0.4,
    });
    assert.equal(both.status, 200);
    assert.equal(both.body.revenueValue, 0.4);
    const nameOnly = await call('PATCH', `/v1/line-items/${lineItem.id}`, {
      name: 'renamed',
      state: 'inactive',
    });
    assert.equal(nameOnly.body.revenueValue, 0.4);
    assert.equal(nameOnly.body.state, 'inactive');
    const moved = await call('PATCH', `/v1/line-items/${lineItem.id}`, { advertiserId: other.id });
    assert.equal(moved.status, 400);
    assert.match(moved.body.error.message, new RegExp(`belongs to advertiser ${advertiser.id} for good`));
  });

  it('lists in pages of `limit` after the `next` cursor, filtered by parent, state and name', async () => {
    const { advertiser } = await chain();
    const names = ['Spring Sale', 'summer sale', 'Autumn', 'Winter SALE'];
    for (const name of names) {
      await create('/v1/line-items', {
        advertiserId: advertiser.id,
        name,
        revenueType: 'cpm',
        revenueValue: 1,
      });
    }
    const seen: string[] = [];
    let next: number | null = null;
    do {
      const query: string = `/v1/line-items?advertiserId=${advertiser.id}&limit=2${next === null ? '' : `&after=${next}`}`;
      const page = await call('GET', query);
      assert.equal(page.status, 200);
      assert.ok(
        page.body.items.length <= 2,
        `a page holds at most limit=2 line items; got ${page.body.items.length}`,
      );
      seen.push(...page.body.items.map((item: { name: string }) => item.name));
      next = page.body.next as number | null;
    } while (next !== null);
    assert.deepEqual(seen, ['Chain line item', ...names]);
    const sales = await call('GET', `/v1/line-items?advertiserId=${advertiser.id}&name=sale`);
    assert.deepEqual(
      sales.body.items.map((item: { name: string }) => item.name),
      ['Spring Sale', 'summer sale', 'Winter SALE'],
    );
    assert.equal(sales.body.next, null);
    const inactive = await call('GET', `/v1/line-items?advertiserId=${advertiser.id}&state=inactive`);
    assert.deepEqual(inactive.body.items, []);
    const defaultPage = await call('GET', '/v1/line-items');
    assert.ok(
      defaultPage.body.items.length <= 50,
      `a page holds at most 50 by default; got ${defaultPage.body.items.length}`,
    );
  });

  it('refuses bad list queries, naming the parameter', async () => {
    const tooMany = await call('GET', '/v1/advertisers?limit=501');
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error.message, /limit: send an integer from 1 to 500/);
    const unknown = await call('GET', '/v1/trackers?x=1');
    assert.equal(unknown.status, 404);
    const typo = await call('GET', '/v1/line-items?advertiser=1');
    assert.equal(typo.status, 400);
    assert.match(typo.body.error.message, /"advertiser": unknown parameter; use limit, after, advertiserId/);
    const badState = await call('GET', '/v1/impression-trackers?state=paused');
    assert.equal(badState.status, 400);
    assert.match(badState.body.error.message, /state: send one of active, inactive/);
  });

  it('refuses a query parameter on a route that reads none, and leaves the object as it was', async () => {
    const advertiser = await create('/v1/advertisers', { name: 'Kept' });
    for (const [method, path, body] of [
      ['PATCH', `/v1/advertisers/${advertiser.id}?dryRun=1`, { name: 'Renamed' }],
      ['DELETE', `/v1/advertisers/${advertiser.id}?force=true`, undefined],
      ['GET', `/v1/advertisers/${advertiser.id}?fields=name`, undefined],
      ['POST', '/v1/advertisers?validateOnly=1', { name: 'Not created' }],
      ['POST', '/v1/wins?dryRun=1', { wins: [] }],
    ] as const) {
      const refused = await call(method, path, body);
      assert.equal(refused.status, 400, `${method} ${path}`);
      assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
      assert.match(
        refused.body.error.message,
        /^unknown parameter "\w+"; \w+ \/v1\/[\w/{}-]+ takes no query parameters$/,
      );
    }
    assert.equal((await call('GET', `/v1/advertisers/${advertiser.id}`)).body.name, 'Kept');
    const notCreated = await call('GET', '/v1/advertisers?limit=500');
    assert.deepEqual(
      notCreated.body.items.filter((item: { name: string }) => item.name === 'Not created'),
      [],
      'no refused advertiser was created',
    );
  });

  it('keeps publisher external ids unique in the account and manages placements', async () => {
    const publisher = await create('/v1/publishers', { name: 'News', externalId: 'pub-news' });
    assert.equal(publisher.externalId, 'pub-news');
    const duplicate = await call('POST', '/v1/publishers', { name: 'News 2', externalId: 'pub-news' });
    assert.equal(duplicate.status, 409);
    assert.equal(
      duplicate.body.error.message,
      'externalId "pub-news" is already used by another publisher of this account; each publisher needs its own',
    );
    const byExternalId = await call('GET', '/v1/publishers?externalId=pub-news');
    assert.deepEqual(
      byExternalId.body.items.map((item: { id: number }) => item.id),
      [publisher.id],
    );
    const cleared = await call('PATCH', `/v1/publishers/${publisher.id}`, { externalId: null });
    assert.equal(cleared.body.externalId, null);

    const placement = await create('/v1/placements', { publisherId: publisher.id, name: 'Top banner' });
    assert.equal(placement.publisherId, publisher.id);
    const renamed = await call('PATCH', `/v1/placements/${placement.id}`, { name: 'Top leaderboard' });
    assert.equal(renamed.body.name, 'Top leaderboard');
    const listed = await call('GET', `/v1/placements?publisherId=${publisher.id}`);
    assert.deepEqual(
      listed.body.items.map((item: { id: number }) => item.id),
      [placement.id],
    );
    const noPublisher = await call('POST', '/v1/placements', { publisherId: 987654, name: 'x' });
    assert.equal(noPublisher.status, 400);
    assert.match(noPublisher.body.error.message, /publisherId: there is no publisher 987654 in this account/);
    assert.equal((await call('DELETE', `/v1/placements/${placement.id}`)).status, 204);
  });

  it('creates payment rules of each pricing type, refusing fields the type does not use', async () => {
    const { publisher } = await chain();
    const placement = await create('/v1/placements', { publisherId: publisher.id, name: 'p' });
    const base = await create('/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Base 50 %',
      pricingType: 'revshare',
      revshare: 0.5,
    });
    assert.equal(base.isBase, true);
    assert.equal(base.priority, 5);
    assert.equal(base.costCpm, null);
    const cpm = await create('/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Flat',
      pricingType: 'cpm',
      costCpm: 1.25,
      applyCostOnDefault: true,
      priority: 8,
      placementIds: [placement.id],
      startDate: '2026-01-01',
      endDate: '2026-12-31',
    });
    assert.equal(cpm.isBase, false);
    assert.equal(cpm.costCpm, 1.25);
    assert.equal(cpm.applyCostOnDefault, true);
    assert.deepEqual(cpm.placementIds, [placement.id]);
    const dynamic = await create('/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Dynamic',
      pricingType: 'dynamic',
      revshare: 0.3,
      maxRevshare: 0.6,
      targetEcpm: 2,
    });
    assert.deepEqual([dynamic.revshare, dynamic.maxRevshare, dynamic.targetEcpm], [0.3, 0.6, 2]);

    const mixed = await call('POST', '/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Mixed',
      pricingType: 'cpm',
      revshare: 0.5,
      priority: 11,
      endDate: '2026-02-30',
    });
    assert.equal(mixed.status, 400);
    const message: string = mixed.body.error.message;
    assert.match(message, /costCpm: required for pricingType cpm/);
    assert.match(message, /revshare: does not apply to pricingType cpm/);
    assert.match(message, /priority: 11 is not valid: send an integer from 1 to 10/);
    assert.match(message, /endDate: "2026-02-30" is not valid: send a date YYYY-MM-DD/);
    // Months that do not exist are refused as plainly as days that do not.
    for (const [method, path, field, date] of [
      ['POST', '/v1/payment-rules', 'startDate', '2026-13-01'],
      ['PATCH', `/v1/payment-rules/${cpm.id}`, 'endDate', '2026-00-10'],
      ['PATCH', `/v1/payment-rules/${cpm.id}`, 'endDate', '2026-99-99'],
    ] as const) {
      const body = {
        publisherId: publisher.id,
        name: 'Dates',
        pricingType: 'cpm',
        costCpm: 1,
        [field]: date,
      };
      const refused = await call(method, path, method === 'POST' ? body : { [field]: date });
      assert.equal(refused.status, 400, `${field} ${date}`);
      assert.match(refused.body.error.message, new RegExp(`${field}: "${date}" is not valid: send a date`));
    }

    // Changing the pricing type drops the old type's fields.
    const switched = await call('PATCH', `/v1/payment-rules/${cpm.id}`, {
      pricingType: 'revshare',
      revshare: 0.4,
    });
    assert.equal(switched.status, 200, JSON.stringify(switched.body));
    assert.deepEqual(
      [switched.body.costCpm, switched.body.applyCostOnDefault, switched.body.revshare],
      [null, false, 0.4],
    );
  });

  it('keeps exactly one base payment rule per publisher', async () => {
    const { publisher } = await chain();
    const rule = (name: string, extra: object = {}) =>
      create('/v1/payment-rules', {
        publisherId: publisher.id,
        name,
        pricingType: 'revshare',
        revshare: 0.5,
        ...extra,
      });
    const first = await rule('first');
    const second = await rule('second', { isBase: true });
    assert.equal(second.isBase, true);
    // The old base is now conditional and inactive: active, with no dates or placements, it
    // would match every event and outrank the new base.
    const demoted = (await call('GET', `/v1/payment-rules/${first.id}`)).body;
    assert.deepEqual([demoted.isBase, demoted.state], [false, 'inactive']);
    const demote = await call('PATCH', `/v1/payment-rules/${second.id}`, { isBase: false });
    assert.equal(demote.status, 400);
    assert.match(demote.body.error.message, /isBase: .*make another rule the base \(isBase: true\) instead/);
    const promote = await call('PATCH', `/v1/payment-rules/${first.id}`, { isBase: true });
    assert.equal(promote.body.isBase, true);
    const refused = await call('DELETE', `/v1/payment-rules/${first.id}`);
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /base rule/);
    assert.equal((await call('DELETE', `/v1/payment-rules/${second.id}`)).status, 204);
    assert.equal((await call('DELETE', `/v1/payment-rules/${first.id}`)).status, 204);
  });

  it('creates impression and click trackers tied to a line item and a publisher, checking every reference', async () => {
    const { advertiser, lineItem, publisher } = await chain();
    const placement = await create('/v1/placements', { publisherId: publisher.id, name: 'p' });
    const rule = await create('/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'r',
      pricingType: 'cpm',
      costCpm: 1,
    });
    const impression = await create('/v1/impression-trackers', {
      advertiserId: advertiser.id,
      name: 'Homepage pixel',
      code: 'home-1',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
      placementId: placement.id,
      paymentRuleId: rule.id,
    });
    assert.deepEqual(
      [
        impression.code,
        impression.state,
        impression.placementId,
        impression.paymentRuleId,
        impression.clickUrl,
      ],
      ['home-1', 'active', placement.id, rule.id, undefined],
    );
    const click = await create('/v1/click-trackers', {
      advertiserId: advertiser.id,
      name: 'Landing',
      code: 'home-1',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
      clickUrl: 'https://shop.example/landing?utm=1',
      state: 'inactive',
    });
    assert.equal(click.clickUrl, 'https://shop.example/landing?utm=1');
    assert.equal(click.state, 'inactive');
    assert.notEqual(click.id, impression.id);
    // Each kind answers only for its own ids.
    assert.equal((await call('GET', `/v1/click-trackers/${impression.id}`)).status, 404);
    assert.equal((await call('GET', `/v1/impression-trackers/${click.id}`)).status, 404);
    const clicks = await call('GET', `/v1/click-trackers?advertiserId=${advertiser.id}`);
    assert.deepEqual(
      clicks.body.items.map((item: { id: number }) => item.id),
      [click.id],
    );
    const byCode = await call('GET', '/v1/impression-trackers?code=home-1');
    assert.deepEqual(
      byCode.body.items.map((item: { id: number }) => item.id),
      [impression.id],
    );

    const taken = await call('POST', '/v1/impression-trackers', {
      advertiserId: advertiser.id,
      name: 'again',
      code: 'home-1',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
    });
    assert.equal(taken.status, 409);
    assert.equal(
      taken.body.error.message,
      'code "home-1" is already used by another impression tracker of this account; pick another code',
    );

    const other = await chain();
    const wrong = await call('POST', '/v1/impression-trackers', {
      advertiserId: advertiser.id,
      name: 'wrong',
      lineItemId: other.lineItem.id,
      publisherId: other.publisher.id,
      placementId: placement.id,
      paymentRuleId: rule.id,
    });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error.message, /fix these 3 fields: lineItemId: advertiser \d+ has no line item/);
    assert.match(wrong.body.error.message, /placementId: publisher \d+ has no placement/);
    assert.match(wrong.body.error.message, /paymentRuleId: publisher \d+ has no payment rule/);

    const badUrl = await call('POST', '/v1/click-trackers', {
      advertiserId: advertiser.id,
      name: 'x',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
      clickUrl: 'javascript:alert(1)',
    });
    assert.equal(badUrl.status, 400);
    assert.match(badUrl.body.error.message, /clickUrl: .*absolute http\(s\) URL/);
    // A URL with a user name or password is never redirected to, so it is refused here.
    const withCredentials = await call('POST', '/v1/click-trackers', {
      advertiserId: advertiser.id,
      name: 'x',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
      clickUrl: 'https://user:pw@landing.example/',
    });
    assert.equal(withCredentials.status, 400);
    assert.match(withCredentials.body.error.message, /clickUrl: .*without a user name or password/);
    const badCode = await call('POST', '/v1/impression-trackers', {
      advertiserId: advertiser.id,
      name: 'x',
      code: 'has space',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
    });
    assert.equal(badCode.status, 400);
    assert.match(badCode.body.error.message, /code: "has space" is not valid/);
    const clickUrlOnImpression = await call('POST', '/v1/impression-trackers', {
      advertiserId: advertiser.id,
      name: 'x',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
      clickUrl: 'https://x.example',
    });
    assert.equal(clickUrlOnImpression.status, 400);
    assert.match(clickUrlOnImpression.body.error.message, /clickUrl: unknown field/);
  });

  it('moves a tracker to another advertiser’s line item and publisher with one PATCH', async () => {
    const from = await chain();
    const to = await chain();
    const placement = await create('/v1/placements', { publisherId: from.publisher.id, name: 'p' });
    const tracker = await create('/v1/impression-trackers', {
      advertiserId: from.advertiser.id,
      name: 't',
      lineItemId: from.lineItem.id,
      publisherId: from.publisher.id,
      placementId: placement.id,
    });
    const halfMoved = await call('PATCH', `/v1/impression-trackers/${tracker.id}`, {
      publisherId: to.publisher.id,
    });
    assert.equal(halfMoved.status, 400, 'the placement stays with the old publisher');
    const moved = await call('PATCH', `/v1/impression-trackers/${tracker.id}`, {
      advertiserId: to.advertiser.id,
      lineItemId: to.lineItem.id,
      publisherId: to.publisher.id,
      placementId: null,
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.deepEqual(
      [moved.body.advertiserId, moved.body.lineItemId, moved.body.publisherId, moved.body.placementId],
      [to.advertiser.id, to.lineItem.id, to.publisher.id, null],
    );
    assert.equal((await call('DELETE', `/v1/advertisers/${from.advertiser.id}`)).status, 409);
    assert.equal((await call('DELETE', `/v1/line-items/${from.lineItem.id}`)).status, 204);
    assert.equal((await call('DELETE', `/v1/advertisers/${from.advertiser.id}`)).status, 204);
  });

  it('refuses to delete what others depend on, saying what and how to fix it', async () => {
    const { advertiser, lineItem, publisher } = await chain();
    const second = await create('/v1/line-items', {
      advertiserId: advertiser.id,
      name: 'second',
      revenueType: 'none',
    });
    const tracker = await create('/v1/impression-trackers', {
      advertiserId: advertiser.id,
      name: 't',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
    });
    const refused = await call('DELETE', `/v1/advertisers/${advertiser.id}`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'CONFLICT');
    assert.equal(
      refused.body.error.message,
      `advertiser ${advertiser.id} still has 2 line items (ids ${lineItem.id}, ${second.id}) and 1 impression tracker (id ${tracker.id}); delete the line items and delete or move the impression tracker first`,
    );
    const key = await call('POST', '/v1/api-keys', {
      name: 'publisher key',
      role: 'reader',
      scope: { type: 'publisher', id: publisher.id },
    });
    const publisherRefused = await call('DELETE', `/v1/publishers/${publisher.id}`);
    assert.equal(
      publisherRefused.body.error.message,
      `publisher ${publisher.id} still has 1 impression tracker (id ${tracker.id}) and 1 API key scoped to it (id ${key.body.id}); delete or move it, and revoke the key, first`,
    );
    const lineItemRefused = await call('DELETE', `/v1/line-items/${lineItem.id}`);
    assert.match(
      lineItemRefused.body.error.message,
      new RegExp(`line item ${lineItem.id} still has 1 impression tracker`),
    );
    assert.equal((await call('GET', `/v1/advertisers/${advertiser.id}`)).status, 200, 'nothing was deleted');
  });

  it('says to delete, not move, what can never move: an advertiser’s line items, a publisher’s placements and payment rules', async () => {
    const { advertiser, publisher } = await chain();
    const placement = await create('/v1/placements', { publisherId: publisher.id, name: 'Top' });
    const rule = await create('/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Base',
      pricingType: 'revshare',
      revshare: 0.5,
    });
    const advertiserRefused = await call('DELETE', `/v1/advertisers/${advertiser.id}`);
    assert.match(advertiserRefused.body.error.message, /still has 1 line item \(id \d+\); delete it first$/);
    const publisherRefused = await call('DELETE', `/v1/publishers/${publisher.id}`);
    assert.equal(
      publisherRefused.body.error.message,
      `publisher ${publisher.id} still has 1 placement (id ${placement.id}) and 1 payment rule (id ${rule.id}); delete them first`,
    );
  });

  it('refuses to delete a publisher’s base rule while trackers naming no rule of their own are priced by it, listing them', async () => {
    const { advertiser, lineItem, publisher } = await chain();
    const base = await create('/v1/payment-rules', {
      publisherId: publisher.id,
      name: 'Base',
      pricingType: 'revshare',
      revshare: 0.5,
    });
    const tracker = (path: string) =>
      create(path, {
        advertiserId: advertiser.id,
        name: 'Priced by the base',
        lineItemId: lineItem.id,
        publisherId: publisher.id,
      });
    const impression = await tracker('/v1/impression-trackers');
    const click = await tracker('/v1/click-trackers');
    const refused = await call('DELETE', `/v1/payment-rules/${base.id}`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'CONFLICT');
    assert.equal(
      refused.body.error.message,
      `payment rule ${base.id} still has 1 impression tracker (id ${impression.id}) and 1 click tracker (id ${click.id}); it is publisher ${publisher.id}'s base rule, which prices the hits of its trackers that name no payment rule of their own: make another rule the base (POST one with isBase: true), or move the trackers to another publisher or delete them, first`,
    );
    assert.equal((await call('GET', `/v1/payment-rules/${base.id}`)).status, 200, 'nothing was deleted');
    for (const id of [impression.id, click.id]) {
      const path = `/v1/${id === click.id ? 'click' : 'impression'}-trackers/${id}`;
      assert.equal((await call('DELETE', path)).status, 204);
    }
    assert.equal((await call('DELETE', `/v1/payment-rules/${base.id}`)).status, 204);
  });

  it('collects every field error into one message and refuses bodies that are not JSON objects', async () => {
    const all = await call('POST', '/v1/impression-trackers', { name: '', colour: 'red', state: 'paused' });
    assert.equal(all.status, 400);
    assert.equal(all.body.error.code, 'VALIDATION_FAILED');
    const message: string = all.body.error.message;
    assert.match(message, /^the impression tracker was not saved; fix these 6 fields: /);
    for (const field of [
      'colour: unknown field',
      'advertiserId: required',
      'name: ',
      'lineItemId: required',
      'publisherId: required',
      'state: "paused" is not valid',
    ]) {
      assert.ok(message.includes(field), `${field} in ${message}`);
    }
    const array = await call('POST', '/v1/advertisers', [{ name: 'x' }]);
    assert.equal(array.status, 400);
    assert.match(array.body.error.message, /the body must be a JSON object/);
    const notJson = await fetch(`${server.url}/v1/advertisers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: '{"name":',
    });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'INVALID_JSON');
    // A value nested thousands deep in a few kilobytes is refused, not repeated in a message.
    const deep = await fetch(`${server.url}/v1/advertisers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: `{"name":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    });
    assert.equal(deep.status, 400);
    assert.equal(((await deep.json()) as { error: { code: string } }).error.code, 'BODY_TOO_DEEP');
    const form = await fetch(`${server.url}/v1/advertisers`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${server.adminKey}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'name=x',
    });
    assert.equal(form.status, 415);
    await form.body?.cancel();
  });

  it('answers 404 for ids that are not numbers or do not exist', async () => {
    for (const path of [
      '/v1/advertisers/abc',
      '/v1/line-items/1.5',
      '/v1/publishers/-1',
      '/v1/placements/0',
      '/v1/payment-rules/99999999',
    ]) {
      const response = await call('GET', path);
      assert.equal(response.status, 404, path);
      assert.equal(response.body.error.code, 'NOT_FOUND');
    }
  });

  it('manages API keys: shown once, listed without secrets, revoked for good, the last admin key kept', async () => {
    const created = await call('POST', '/v1/api-keys', { name: 'reporting', role: 'reader' });
    assert.equal(created.status, 201);
    assert.match(created.body.key, /^tally_/);
    assert.ok(
      created.body.key.startsWith(created.body.prefix),
      `the key begins with its listed prefix ${created.body.prefix}`,
    );
    const listed = await call('GET', '/v1/api-keys');
    const text = JSON.stringify(listed.body);
    assert.ok(!text.includes(created.body.key), 'the list never shows a key');
    assert.ok(!/hash/i.test(text), 'the list never shows a hash');
    // Of an operator's TALLY_ADMIN_KEY, which may be 16 characters, it shows only the first 4.
    const operatorKey = listed.body.items.find((item: { name: string }) => item.name === 'TALLY_ADMIN_KEY');
    assert.equal(operatorKey.prefix, server.adminKey.slice(0, 4));
    const entry = listed.body.items.find((item: { id: number }) => item.id === created.body.id);
    assert.deepEqual(Object.keys(entry).sort(), [
      'createdAt',
      'id',
      'name',
      'prefix',
      'revokedAt',
      'role',
      'scope',
    ]);
    assert.equal((await api(server, created.body.key, 'GET', '/v1/advertisers')).status, 200);
    assert.equal((await call('DELETE', `/v1/api-keys/${created.body.id}`)).status, 204);
    assert.equal((await api(server, created.body.key, 'GET', '/v1/advertisers')).status, 401);
    assert.notEqual((await call('GET', `/v1/api-keys/${created.body.id}`)).body.revokedAt, null);

    const badScope = await call('POST', '/v1/api-keys', {
      name: 'x',
      role: 'owner',
      scope: { type: 'advertiser', id: 987654 },
    });
    assert.equal(badScope.status, 400);
    assert.match(badScope.body.error.message, /role: "owner" is not valid/);
    assert.match(badScope.body.error.message, /scope: there is no advertiser 987654 in this account/);

    const admins = (await call('GET', '/v1/api-keys?limit=500')).body.items.filter(
      (item: { role: string; scope: unknown; revokedAt: unknown }) =>
        item.role === 'admin' && item.scope === null && item.revokedAt === null,
    );
    assert.equal(admins.length, 1);
    const last = await call('DELETE', `/v1/api-keys/${admins[0].id}`);
    assert.equal(last.status, 409);
    assert.match(last.body.error.message, /last account-wide admin key; create another admin key first/);
  });

  it('stores the account’s redirect allow-list, normalising domains', async () => {
    assert.deepEqual((await call('GET', '/v1/account/redirect-allowlist')).body, {
      enabled: false,
      domains: [],
      warnings: [],
    });
    const saved = await call('PUT', '/v1/account/redirect-allowlist', {
      enabled: true,
      domains: ['Shop.Example.', 'shop.example', 'cdn.example.org'],
    });
    assert.equal(saved.status, 200);
    assert.deepEqual([saved.body.enabled, saved.body.domains], [true, ['shop.example', 'cdn.example.org']]);
    assert.deepEqual((await call('GET', '/v1/account/redirect-allowlist')).body, saved.body);
    const bad = await call('PUT', '/v1/account/redirect-allowlist', { domains: ['https://x.example/path'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /enabled: required/);
    assert.match(bad.body.error.message, /domains: "https:\/\/x.example\/path" is not a host name/);
  });

  it('refuses, on create, PUT and PATCH, a click URL the account’s enabled redirect allow-list refuses, naming the allow-list', async () => {
    const allowlist = (enabled: boolean) =>
      call('PUT', '/v1/account/redirect-allowlist', { enabled, domains: ['shop.example'] });
    assert.equal((await allowlist(true)).status, 200);
    const { advertiser, lineItem, publisher } = await chain();
    const body = {
      advertiserId: advertiser.id,
      name: 'Landing',
      lineItemId: lineItem.id,
      publisherId: publisher.id,
    };
    const outside = 'https://landing.elsewhere.example/page';
    const refusedBecause = new RegExp(
      `clickUrl: the redirect host landing\\.elsewhere\\.example is not on the account's redirect allow-list, so every click would be answered 400 with no landing page: use a landing page on one of its domains \\(GET /v1/account/redirect-allowlist\\), or add this host to them first`,
    );
    const created = await call('POST', '/v1/click-trackers', { ...body, clickUrl: outside });
    assert.equal(created.status, 400, JSON.stringify(created.body));
    assert.match(created.body.error.message, refusedBecause);
    const tracker = await create('/v1/click-trackers', { ...body, clickUrl: 'https://www.shop.example/x' });
    const path = `/v1/click-trackers/${tracker.id}`;
    for (const [method, edit] of [
      ['PATCH', { clickUrl: outside }],
      ['PUT', { ...body, clickUrl: outside }],
    ] as const) {
      const response = await call(method, path, edit);
      assert.equal(response.status, 400, `${method}: ${JSON.stringify(response.body)}`);
      assert.match(response.body.error.message, refusedBecause);
    }
    assert.equal((await call('GET', path)).body.clickUrl, 'https://www.shop.example/x');

    // A click URL stored while the allow-list was off is kept when it is switched on: the
    // tracker can still be renamed or deactivated (its clicks answer the no-landing-page page).
    assert.equal((await allowlist(false)).status, 200);
    assert.equal((await call('PATCH', path, { clickUrl: outside })).status, 200);
    assert.equal((await allowlist(true)).status, 200);
    const renamed = await call('PATCH', path, { name: 'Renamed', state: 'inactive' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.clickUrl, outside);
    assert.equal((await allowlist(false)).status, 200);
  });

  it('describes the catalog routes in /docs', async () => {
    const docs = await fetch(`${server.url}/docs`);
    const paths = Object.keys(((await docs.json()) as { paths: Record<string, unknown> }).paths);
    for (const path of [
      '/v1/advertisers',
      '/v1/advertisers/{id}',
      '/v1/line-items',
      '/v1/publishers',
      '/v1/placements',
      '/v1/payment-rules',
      '/v1/impression-trackers/{id}',
      '/v1/click-trackers',
      '/v1/api-keys',
      '/v1/api-keys/{id}',
      '/v1/account/redirect-allowlist',
    ]) {
      assert.ok(paths.includes(path), path);
    }
  });
});
