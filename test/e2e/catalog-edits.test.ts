import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { hourStartMs } from '../../src/lib/time.js';
import type { TestServer } from '../support/server.js';
import { api, startServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

let server: TestServer;

/** Calls the API with the admin key. */
const call = (method: string, path: string, body?: unknown) =>
  api(server, server.adminKey, method, path, body);

/** Creates an object with the admin key, asserting 201, and answers it. */
async function create(path: string, body: object): Promise<Record<string, any>> {
  const response = await call('POST', path, body);
  assert.equal(response.status, 201, `${path}: ${JSON.stringify(response.body)}`);
  return response.body as Record<string, any>;
}

/** Creates the publisher's base payment rule, a 50 % revshare, and answers it. */
function createBaseRule(publisherId: number | undefined): Promise<Record<string, any>> {
  return create('/v1/payment-rules', { publisherId, name: 'Base', pricingType: 'revshare', revshare: 0.5 });
}

/** An advertiser with a CPM line item, a publisher with a placement, and an impression tracker on them. */
async function chain(name: string): Promise<Record<string, number>> {
  const advertiser = await create('/v1/advertisers', { name });
  const lineItem = await create('/v1/line-items', {
    advertiserId: advertiser.id,
    name,
    revenueType: 'cpm',
    revenueValue: 2,
  });
  const publisher = await create('/v1/publishers', { name });
  const placement = await create('/v1/placements', { publisherId: publisher.id, name });
  const tracker = await create('/v1/impression-trackers', {
    advertiserId: advertiser.id,
    name,
    lineItemId: lineItem.id,
    publisherId: publisher.id,
    placementId: placement.id,
  });
  return {
    advertiser: advertiser.id,
    lineItem: lineItem.id,
    publisher: publisher.id,
    placement: placement.id,
    tracker: tracker.id,
  };
}

/**
 * Sends a PATCH with `Expect: 100-continue` and holds its body back until `meanwhile` has
 * finished: the server has taken the request (and run its handler up to reading the body) once it
 * answered 100 Continue, so `meanwhile` runs while this edit is in flight.
 */
async function patchHeldBack(
  path: string,
  body: object,
  meanwhile: () => Promise<void>,
): Promise<{ status: number; body: any }> {
  const text = JSON.stringify(body);
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      method: 'PATCH',
      path,
      headers: {
        authorization: `Bearer ${server.adminKey}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        expect: '100-continue',
      },
    });
    req.on('continue', () => {
      meanwhile().then(() => req.end(text), reject);
    });
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

/** The tracker's hits of the last day, by outcome and reason. */
async function hitsOf(trackerId: number): Promise<{ outcome: string; reason: string; events: number }[]> {
  const from = new Date(hourStartMs(Date.now()) - 86_400_000).toISOString();
  const to = new Date(hourStartMs(Date.now()) + 3_600_000).toISOString();
  const response = await call(
    'GET',
    `/v1/reports?from=${from}&to=${to}&groupBy=outcome,reason&tracker=${trackerId}&format=json`,
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return (response.body.rows as { outcome: string; reason: string; events: number }[]).map((row) => ({
    outcome: row.outcome,
    reason: row.reason,
    events: row.events,
  }));
}

before(async () => {
  server = await startServer({ TALLY_PUBLIC_URL: 'https://tally.example.com' });
});
after(async () => {
  await server.dispose();
});

describe('catalog edits at once', () => {
  it('keeps a tracker deactivated while a rename of it was still arriving: it stays inactive and stops counting', async () => {
    const ids = await chain('Concurrent edits');
    const path = `/v1/impression-trackers/${ids.tracker}`;
    const renamed = await patchHeldBack(path, { name: 'Renamed meanwhile' }, async () => {
      const deactivated = await call('PATCH', path, { state: 'inactive' });
      assert.equal(deactivated.status, 200, JSON.stringify(deactivated.body));
      assert.equal(deactivated.body.state, 'inactive');
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.deepEqual([renamed.body.name, renamed.body.state], ['Renamed meanwhile', 'inactive']);
    assert.equal((await call('GET', path)).body.state, 'inactive');

    const hit = await fetch(`${server.url}/imptr?id=${ids.tracker}&cachebuster=1`, {
      headers: { 'user-agent': CHROME },
    });
    await hit.arrayBuffer();
    assert.equal(hit.status, 200);
    assert.deepEqual(await hitsOf(ids.tracker ?? 0), [
      { outcome: 'not_counted', reason: 'inactive_tracker', events: 1 },
    ]);
  });
});

describe('PATCH and PUT bodies', () => {
  it('refuses a PATCH or PUT whose id names another object instead of editing the one in the path', async () => {
    const first = await create('/v1/advertisers', { name: 'First' });
    const second = await create('/v1/advertisers', { name: 'Second' });
    for (const method of ['PATCH', 'PUT']) {
      const response = await call(method, `/v1/advertisers/${first.id}`, { id: second.id, name: 'Renamed' });
      assert.equal(response.status, 400, `${method}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, 'VALIDATION_FAILED');
      assert.match(response.body.error.message, new RegExp(`id: .*${first.id}`));
    }
    assert.equal((await call('GET', `/v1/advertisers/${first.id}`)).body.name, 'First');
    assert.equal((await call('GET', `/v1/advertisers/${second.id}`)).body.name, 'Second');
    // Sending back what GET answered, its own id included, still works.
    const same = await call('PATCH', `/v1/advertisers/${first.id}`, { id: first.id, name: 'First again' });
    assert.equal(same.status, 200, JSON.stringify(same.body));
  });

  it('refuses null in a PATCH for a field that cannot be empty, naming it, instead of keeping the stored value', async () => {
    const ids = await chain('Null in PATCH');
    await createBaseRule(ids.publisher);
    const conditional = await create('/v1/payment-rules', {
      publisherId: ids.publisher,
      name: 'Placement CPM',
      pricingType: 'cpm',
      costCpm: 1,
      priority: 8,
      placementIds: [ids.placement],
    });
    const cases: [string, object, string][] = [
      [`/v1/payment-rules/${conditional.id}`, { placementIds: null }, 'placementIds'],
      [`/v1/payment-rules/${conditional.id}`, { state: null }, 'state'],
      [`/v1/payment-rules/${conditional.id}`, { priority: null }, 'priority'],
      [`/v1/impression-trackers/${ids.tracker}`, { state: null }, 'state'],
    ];
    for (const [path, body, field] of cases) {
      const response = await call('PATCH', path, body);
      assert.equal(response.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
      assert.match(response.body.error.message, new RegExp(`${field}: cannot be null`));
    }
    const rule = (await call('GET', `/v1/payment-rules/${conditional.id}`)).body;
    assert.deepEqual([rule.placementIds, rule.state, rule.priority], [[ids.placement], 'active', 8]);
    // Fields that can be empty are still cleared with null.
    const cleared = await call('PATCH', `/v1/impression-trackers/${ids.tracker}`, { placementId: null });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.equal(cleared.body.placementId, null);
  });
});

describe('moving a tracker to another publisher', () => {
  it('tells a PATCH to send null for the placement and payment rule the tracker would keep, not to leave them out', async () => {
    const ids = await chain('Moved tracker');
    const rule = await createBaseRule(ids.publisher);
    const path = `/v1/impression-trackers/${ids.tracker}`;
    assert.equal((await call('PATCH', path, { paymentRuleId: rule.id })).status, 200);
    const other = await create('/v1/publishers', { name: 'Other publisher' });
    const moved = await call('PATCH', path, { publisherId: other.id });
    assert.equal(moved.status, 400, JSON.stringify(moved.body));
    assert.match(
      moved.body.error.message,
      /placementId: publisher \d+ has no placement \d+; use one of its placements, or send "placementId": null for none/,
    );
    assert.match(
      moved.body.error.message,
      /paymentRuleId: publisher \d+ has no payment rule \d+; use one of its rules, or send "paymentRuleId": null for none/,
    );
    const done = await call('PATCH', path, { publisherId: other.id, placementId: null, paymentRuleId: null });
    assert.equal(done.status, 200, JSON.stringify(done.body));
  });
});

describe('base payment rules', () => {
  it('refuses placements and dates on a publisher’s base rule, which would price every impression whatever they say', async () => {
    const ids = await chain('Base rule conditions');
    const firstWithConditions = await call('POST', '/v1/payment-rules', {
      publisherId: ids.publisher,
      name: 'Top placement CPM 5',
      pricingType: 'cpm',
      costCpm: 5,
      priority: 9,
      placementIds: [ids.placement],
      startDate: '2030-01-01',
    });
    assert.equal(firstWithConditions.status, 400, JSON.stringify(firstWithConditions.body));
    assert.match(firstWithConditions.body.error.message, /placementIds: .*base rule/);
    assert.match(firstWithConditions.body.error.message, /startDate: .*base rule/);
    assert.deepEqual((await call('GET', `/v1/payment-rules?publisherId=${ids.publisher}`)).body.items, []);

    const base = await createBaseRule(ids.publisher);
    const conditional = await create('/v1/payment-rules', {
      publisherId: ids.publisher,
      name: 'Top placement CPM 5',
      pricingType: 'cpm',
      costCpm: 5,
      priority: 9,
      placementIds: [ids.placement],
      endDate: '2030-12-31',
    });
    assert.equal(conditional.isBase, false);
    const conditionsOnBase = await call('PATCH', `/v1/payment-rules/${base.id}`, {
      placementIds: [ids.placement],
    });
    assert.equal(conditionsOnBase.status, 400, JSON.stringify(conditionsOnBase.body));
    assert.match(conditionsOnBase.body.error.message, /placementIds: .*base rule/);
    const promoted = await call('PATCH', `/v1/payment-rules/${conditional.id}`, { isBase: true });
    assert.equal(promoted.status, 400, JSON.stringify(promoted.body));
    assert.match(promoted.body.error.message, /placementIds: .*base rule/);
    assert.match(promoted.body.error.message, /endDate: .*base rule/);
    // Nothing changed: the old base is still the base, and active.
    const stored = (await call('GET', `/v1/payment-rules/${base.id}`)).body;
    assert.deepEqual([stored.isBase, stored.state], [true, 'active']);
    // Promoted with its conditions cleared in the same PATCH, it becomes the base.
    const cleared = await call('PATCH', `/v1/payment-rules/${conditional.id}`, {
      isBase: true,
      placementIds: [],
      endDate: null,
    });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.equal(cleared.body.isBase, true);
  });
});

describe('the base rule’s state and priority', () => {
  it('refuses to deactivate a publisher’s base rule or change its priority, which would change nothing it prices', async () => {
    const ids = await chain('Base rule state');
    const firstInactive = await call('POST', '/v1/payment-rules', {
      publisherId: ids.publisher,
      name: 'First, inactive',
      pricingType: 'revshare',
      revshare: 0.5,
      state: 'inactive',
    });
    assert.equal(firstInactive.status, 400, JSON.stringify(firstInactive.body));
    assert.match(firstInactive.body.error.message, /state: publisher \d+ has no base rule yet/);
    const firstWithPriority = await call('POST', '/v1/payment-rules', {
      publisherId: ids.publisher,
      name: 'First, priority 9',
      pricingType: 'revshare',
      revshare: 0.5,
      priority: 9,
    });
    assert.equal(firstWithPriority.status, 400, JSON.stringify(firstWithPriority.body));
    assert.match(firstWithPriority.body.error.message, /priority: publisher \d+ has no base rule yet/);
    const base = await createBaseRule(ids.publisher);
    const path = `/v1/payment-rules/${base.id}`;
    const refusals: [string, object, RegExp][] = [
      ['PATCH', { state: 'inactive' }, /state: .*make another rule the base first \(isBase: true on it\)/],
      ['PATCH', { priority: 9 }, /priority: a base rule has no priority: .*leave priority out/],
      [
        'PUT',
        {
          publisherId: ids.publisher,
          name: 'Base',
          pricingType: 'revshare',
          revshare: 0.5,
          state: 'inactive',
        },
        /state: .*make another rule the base first/,
      ],
    ];
    for (const [method, body, problem] of refusals) {
      const response = await call(method, path, body);
      assert.equal(
        response.status,
        400,
        `${method} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`,
      );
      assert.match(response.body.error.message, problem);
    }
    for (const extra of [{ state: 'inactive' }, { priority: 9 }]) {
      const promoted = await call('POST', '/v1/payment-rules', {
        publisherId: ids.publisher,
        name: 'New base',
        pricingType: 'cpm',
        costCpm: 1,
        isBase: true,
        ...extra,
      });
      assert.equal(promoted.status, 400, `${JSON.stringify(extra)}: ${JSON.stringify(promoted.body)}`);
    }
    const active = await call('GET', `/v1/payment-rules?publisherId=${ids.publisher}&state=active`);
    assert.deepEqual(
      active.body.items.map((rule: { id: number }) => rule.id),
      [base.id],
    );
    // What GET answered, sent back, is taken: the priority it has, and active.
    const resent = await call('PUT', path, (await call('GET', path)).body);
    assert.equal(resent.status, 200, JSON.stringify(resent.body));
    assert.deepEqual([resent.body.state, resent.body.priority], ['active', 5]);
  });

  it('makes an inactive rule promoted to the base active, and the base it replaces an inactive conditional rule', async () => {
    const ids = await chain('Promoted inactive');
    const oldBase = await createBaseRule(ids.publisher);
    const paused = await create('/v1/payment-rules', {
      publisherId: ids.publisher,
      name: 'Paused CPM',
      pricingType: 'cpm',
      costCpm: 1,
      priority: 8,
      state: 'inactive',
    });
    const promoted = await call('PATCH', `/v1/payment-rules/${paused.id}`, { isBase: true });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.deepEqual(
      [promoted.body.isBase, promoted.body.state, promoted.body.priority],
      [true, 'active', 8],
    );
    const demoted = (await call('GET', `/v1/payment-rules/${oldBase.id}`)).body;
    assert.deepEqual([demoted.isBase, demoted.state], [false, 'inactive']);
  });

  it('refuses isBase: null on create, replace and PATCH alike, saying to leave it out, and keeps a rule left without it as it is', async () => {
    const ids = await chain('isBase null');
    const rule = { publisherId: ids.publisher, pricingType: 'revshare', revshare: 0.5 };
    const first = await create('/v1/payment-rules', { ...rule, name: 'First' });
    assert.equal(first.isBase, true, 'a publisher’s first rule is its base');
    const second = await create('/v1/payment-rules', { ...rule, name: 'Second' });
    assert.equal(second.isBase, false, 'a later rule is conditional');
    const writes: [string, string, object][] = [
      ['POST', '/v1/payment-rules', { ...rule, name: 'Third', isBase: null }],
      ['PUT', `/v1/payment-rules/${first.id}`, { ...rule, name: 'First again', isBase: null }],
      ['PATCH', `/v1/payment-rules/${second.id}`, { isBase: null }],
    ];
    for (const [method, path, body] of writes) {
      const refused = await call(method, path, body);
      assert.equal(refused.status, 400, `${method}: ${JSON.stringify(refused.body)}`);
      assert.match(
        refused.body.error.message,
        /isBase: cannot be null: send true or false, or leave isBase out/,
      );
    }
    const replaced = await call('PUT', `/v1/payment-rules/${first.id}`, { ...rule, name: 'First again' });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal(replaced.body.isBase, true, 'a PUT without isBase keeps the base');
  });
});

describe('tag export bodies', () => {
  it('refuses an export body with a misspelt field, naming it, instead of exporting a tag without what was asked for', async () => {
    const ids = await chain('Export typo');
    const response = await call('POST', `/v1/impression-trackers/${ids.tracker}/export`, {
      type: 'pixel',
      param: ['cachebuster', 'ancost'],
      placeholder: 'gam',
    });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.error.code, 'VALIDATION_FAILED');
    assert.match(response.body.error.message, /param: unknown field; .*params/);
    assert.match(response.body.error.message, /placeholder: unknown field; .*placeholders/);
    const spelt = await call('POST', `/v1/impression-trackers/${ids.tracker}/export`, {
      type: 'pixel',
      params: ['cachebuster', 'ancost'],
      placeholders: 'gam',
    });
    assert.equal(spelt.status, 200, JSON.stringify(spelt.body));
    assert.match(spelt.body.tags[0].tag, /cachebuster=%%CACHEBUSTER%%&amp;ancost=\[ANCOST\]&amp;t=2"/);
  });
});
