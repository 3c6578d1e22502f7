import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { CatalogSnapshot } from '../../catalog-snapshot.js';
import { tablesOf, viewOf } from '../../catalog-tables.js';
import type { LineItemInput, TrackerInput } from '../../ports/catalog.js';
import { SqliteAccountStore } from './accounts.js';
import { SqliteCatalogStore } from './catalog.js';
import { openSqlite } from './database.js';
import { stored } from '../../../test/support/stored-tracker.js';
import type { KeyScope } from '../../ports/accounts.js';
import { OPERATOR_ACCOUNT_ID } from '../../ports/accounts.js';
import { paymentRuleInput } from '../../../test/support/payment-rules.js';
import { until } from '../../../test/support/until.js';

const NOW_MS = Date.UTC(2026, 10, 22);

/** An advertiser with a line item (CPM 2.00 unless told) and a publisher, in `accountId`. */
function chain(
  target: SqliteCatalogStore,
  accountId: number,
  revenue: Pick<LineItemInput, 'revenueType' | 'revenueValueMicros'> = {
    revenueType: 'cpm',
    revenueValueMicros: 2_000_000,
  },
) {
  const advertiser = stored(target.advertisers.create(accountId, { name: 'Adv' }, NOW_MS));
  const lineItem = stored(
    target.lineItems.create(
      accountId,
      { advertiserId: advertiser.id, name: 'LI', state: 'active', ...revenue },
      NOW_MS,
    ),
  );
  const publisher = stored(target.publishers.create(accountId, { name: 'Pub', externalId: null }, NOW_MS));
  return { advertiser, lineItem, publisher };
}

/** An active impression tracker on a chain's line item and publisher. */
function trackerInput(ids: ReturnType<typeof chain>, overrides: Partial<TrackerInput> = {}): TrackerInput {
  return {
    kind: 'impression',
    advertiserId: ids.advertiser.id,
    name: 'tracker',
    code: null,
    lineItemId: ids.lineItem.id,
    publisherId: ids.publisher.id,
    placementId: null,
    paymentRuleId: null,
    state: 'active',
    clickUrl: null,
    firedBy: 'browser',
    ...overrides,
  };
}

describe('SQLite catalog store', () => {
  let dir: string;
  let db: Database.Database;
  let store: SqliteCatalogStore;
  let accounts: SqliteAccountStore;
  let accountA: number;
  let accountB: number;

  const chainIn = (accountId: number) => chain(store, accountId);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tally-catalog-'));
    db = openSqlite(join(dir, 'tally.db'));
    accounts = new SqliteAccountStore(db);
    accountA = accounts.createAccount('A', NOW_MS).id;
    accountB = accounts.createAccount('B', NOW_MS).id;
    store = new SqliteCatalogStore(db);
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('filters names as a substring in any case, beyond ASCII too', () => {
    const accountId = accounts.createAccount('Names', NOW_MS).id;
    for (const name of ['École Nationale', 'ÉCOLE du soir', 'Collège']) {
      stored(store.advertisers.create(accountId, { name }, NOW_MS));
    }
    const named = (filter: string) =>
      store.advertisers.list(accountId, { filter: { name: filter }, limit: 10 }).map((found) => found.name);
    assert.deepEqual(named('école'), ['École Nationale', 'ÉCOLE du soir']);
    // The same letter written as e and a combining accent.
    assert.deepEqual(named('colle\u0300ge'), ['Collège']);
    assert.deepEqual(named('NATIONALE'), ['École Nationale']);
  });

  it('treats another account’s objects as missing, for reads and for references', () => {
    const a = chainIn(accountA);
    assert.equal(store.advertisers.get(accountB, a.advertiser.id), undefined);
    assert.deepEqual(store.advertisers.list(accountB, { filter: {}, limit: 10 }), []);
    const result = store.lineItems.create(
      accountB,
      {
        advertiserId: a.advertiser.id,
        name: 'x',
        revenueType: 'none',
        revenueValueMicros: 0,
        state: 'active',
      },
      NOW_MS,
    );
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason === 'invalid' && result.problems[0]?.field, 'advertiserId');
  });

  it('refuses a tracker whose line item is another advertiser’s without saying whose it is', () => {
    const a = chainIn(accountA);
    const b = chainIn(accountA);
    const result = store.trackers.create(accountA, trackerInput(a, { lineItemId: b.lineItem.id }), NOW_MS);
    assert.ok(
      !result.ok && result.reason === 'invalid',
      `a tracker on another advertiser’s line item is refused as invalid; got ${JSON.stringify(result)}`,
    );
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0]?.field, 'lineItemId');
    assert.match(
      result.problems[0]?.message ?? '',
      new RegExp(`advertiser ${a.advertiser.id} has no line item`),
    );
    assert.doesNotMatch(result.problems[0]?.message ?? '', new RegExp(`advertiser ${b.advertiser.id}`));
  });

  it('refuses a tracker whose placement or payment rule belongs to another publisher, naming both fields', () => {
    const a = chainIn(accountA);
    const other = stored(store.publishers.create(accountA, { name: 'Other', externalId: null }, NOW_MS));
    const placement = stored(store.placements.create(accountA, { publisherId: other.id, name: 'p' }, NOW_MS));
    const paymentRule = stored(store.paymentRules.create(accountA, paymentRuleInput(other.id), NOW_MS));
    const result = store.trackers.create(
      accountA,
      trackerInput(a, { placementId: placement.id, paymentRuleId: paymentRule.id }),
      NOW_MS,
    );
    assert.ok(
      !result.ok && result.reason === 'invalid',
      `a tracker on another publisher’s placement and payment rule is refused as invalid; got ${JSON.stringify(result)}`,
    );
    assert.deepEqual(
      result.problems.map((problem) => problem.field),
      ['placementId', 'paymentRuleId'],
    );
  });

  it('refuses a tracker on a publisher of another account, naming publisherId, and keeps a tracker’s kind for good', () => {
    const a = chainIn(accountA);
    const b = chainIn(accountB);
    const foreign = store.trackers.create(accountA, trackerInput(a, { publisherId: b.publisher.id }), NOW_MS);
    assert.ok(
      !foreign.ok && foreign.reason === 'invalid',
      `a tracker on another account’s publisher is refused as invalid; got ${JSON.stringify(foreign)}`,
    );
    assert.deepEqual(
      foreign.problems.map((problem) => problem.field),
      ['publisherId'],
    );
    assert.match(foreign.problems[0]?.message ?? '', /there is no publisher \d+ in this account/);

    const impression = stored(store.trackers.create(accountA, trackerInput(a), NOW_MS));
    const asClick = store.trackers.update(
      accountA,
      impression.id,
      trackerInput(a, { kind: 'click' }),
      NOW_MS,
    );
    assert.ok(
      !asClick.ok && asClick.reason === 'invalid',
      `a tracker’s kind cannot change: refused as invalid; got ${JSON.stringify(asClick)}`,
    );
    assert.equal(asClick.problems[0]?.field, 'kind');
    assert.equal(store.trackers.get(accountA, impression.id)?.kind, 'impression');
  });

  it('keeps tracker codes unique per account and kind, but lets other accounts and kinds reuse them', () => {
    const a = chainIn(accountA);
    const b = chainIn(accountB);
    stored(store.trackers.create(accountA, trackerInput(a, { code: 'shared' }), NOW_MS));
    const again = store.trackers.create(accountA, trackerInput(a, { code: 'shared' }), NOW_MS);
    assert.ok(
      !again.ok && again.reason === 'conflict' && again.field === 'code',
      `a second tracker with the same code and kind is refused as a conflict on code; got ${JSON.stringify(again)}`,
    );
    stored(store.trackers.create(accountA, trackerInput(a, { code: 'shared', kind: 'click' }), NOW_MS));
    stored(store.trackers.create(accountB, trackerInput(b, { code: 'shared' }), NOW_MS));
  });

  it('makes a publisher’s first payment rule its base and demotes the old base to an inactive rule when another is promoted', () => {
    const { publisher } = chainIn(accountA);
    const first = stored(store.paymentRules.create(accountA, paymentRuleInput(publisher.id), NOW_MS));
    const second = stored(
      store.paymentRules.create(accountA, paymentRuleInput(publisher.id, { priority: 9 }), NOW_MS),
    );
    assert.equal(first.isBase, true);
    assert.equal(second.isBase, false);
    const promoted = stored(
      store.paymentRules.create(accountA, paymentRuleInput(publisher.id, { isBase: true }), NOW_MS + 1),
    );
    assert.equal(promoted.isBase, true);
    const demoted = store.paymentRules.get(accountA, first.id);
    assert.deepEqual([demoted?.isBase, demoted?.state, demoted?.updatedMs], [false, 'inactive', NOW_MS + 1]);
    // So the new base prices what no conditional rule does: the old one is not evaluated.
    assert.deepEqual(
      viewOf(tablesOf(store.load()))
        .paymentRules(publisher.id)
        .map((entry) => entry.id),
      [second.id, promoted.id],
    );
    const demote = store.paymentRules.update(
      accountA,
      promoted.id,
      paymentRuleInput(publisher.id, { isBase: false }),
      NOW_MS,
    );
    assert.ok(
      !demote.ok && demote.reason === 'invalid' && demote.problems[0]?.field === 'isBase',
      `the base rule cannot be made not base: refused as invalid on isBase; got ${JSON.stringify(demote)}`,
    );
  });

  it('refuses to delete an object while others depend on it, listing them and the fix', () => {
    const a = chainIn(accountA);
    const placement = stored(
      store.placements.create(accountA, { publisherId: a.publisher.id, name: 'p' }, NOW_MS),
    );
    const base = stored(store.paymentRules.create(accountA, paymentRuleInput(a.publisher.id), NOW_MS));
    const conditional = stored(
      store.paymentRules.create(
        accountA,
        paymentRuleInput(a.publisher.id, { placementIds: [placement.id] }),
        NOW_MS,
      ),
    );
    const imp = stored(
      store.trackers.create(accountA, trackerInput(a, { placementId: placement.id }), NOW_MS),
    );

    const advertiser = store.advertisers.delete(accountA, a.advertiser.id);
    assert.ok(
      !advertiser.ok && advertiser.reason === 'in_use',
      `an advertiser with a line item and trackers is refused as in use; got ${JSON.stringify(advertiser)}`,
    );
    assert.deepEqual(
      advertiser.dependents.map((dependent) => [dependent.noun, dependent.ids]),
      [
        ['line item', [a.lineItem.id]],
        ['impression tracker', [imp.id]],
      ],
    );
    const usedPlacement = store.placements.delete(accountA, placement.id);
    assert.ok(
      !usedPlacement.ok && usedPlacement.reason === 'in_use',
      `a placement trackers and rules name is refused as in use; got ${JSON.stringify(usedPlacement)}`,
    );
    assert.deepEqual(
      usedPlacement.dependents.map((dependent) => dependent.ids),
      [[imp.id], [conditional.id]],
    );
    const baseRule = store.paymentRules.delete(accountA, base.id);
    assert.ok(
      !baseRule.ok && baseRule.reason === 'in_use',
      `a base payment rule with others beside it is refused as in use; got ${JSON.stringify(baseRule)}`,
    );
    assert.match(baseRule.fix, /base/);

    assert.deepEqual(store.trackers.delete(accountA, imp.id), { ok: true });
    assert.deepEqual(store.paymentRules.delete(accountA, conditional.id), { ok: true });
    assert.deepEqual(store.placements.delete(accountA, placement.id), { ok: true });
    assert.deepEqual(store.paymentRules.delete(accountA, base.id), { ok: true });
    assert.deepEqual(store.lineItems.delete(accountA, a.lineItem.id), { ok: true });
    assert.deepEqual(store.advertisers.delete(accountA, a.advertiser.id), { ok: true });
    assert.deepEqual(store.advertisers.delete(accountA, a.advertiser.id), { ok: false, reason: 'not_found' });
  });

  it('refuses to delete a publisher while it has placements or payment rules', () => {
    const publisher = stored(store.publishers.create(accountA, { name: 'Busy', externalId: null }, NOW_MS));
    const placement = stored(
      store.placements.create(accountA, { publisherId: publisher.id, name: 'p' }, NOW_MS),
    );
    const base = stored(store.paymentRules.create(accountA, paymentRuleInput(publisher.id), NOW_MS));
    const refused = store.publishers.delete(accountA, publisher.id);
    assert.ok(
      !refused.ok && refused.reason === 'in_use',
      `a publisher with placements and rules is refused as in use; got ${JSON.stringify(refused)}`,
    );
    assert.deepEqual(
      refused.dependents.map((dependent) => [dependent.noun, dependent.ids]),
      [
        ['placement', [placement.id]],
        ['payment rule', [base.id]],
      ],
    );
    assert.equal(refused.fix, 'delete them first');
  });

  it('refuses to delete an advertiser or publisher while a live API key is scoped to it, and deletes it once the key is revoked', () => {
    const advertiser = stored(store.advertisers.create(accountA, { name: 'Keyed' }, NOW_MS));
    const publisher = stored(store.publishers.create(accountA, { name: 'Keyed', externalId: null }, NOW_MS));
    const scoped = [
      [store.advertisers, advertiser.id, { type: 'advertiser', id: advertiser.id }],
      [store.publishers, publisher.id, { type: 'publisher', id: publisher.id }],
    ] as const;
    for (const [entities, id, scope] of scoped) {
      const key = accounts.addKey(
        accountA,
        `hash-${scope.type}`,
        'tally_x',
        'scoped',
        'reader',
        scope,
        NOW_MS,
      );
      const refused = entities.delete(accountA, id);
      assert.ok(!refused.ok && refused.reason === 'in_use', scope.type);
      assert.deepEqual(
        refused.dependents.map((dependent) => [dependent.noun, dependent.ids]),
        [['API key scoped to it', [key.id]]],
      );
      assert.equal(refused.fix, 'revoke it first');
      assert.equal(accounts.revokeKey(accountA, key.id, NOW_MS), true, `the ${scope.type} key is revoked`);
      assert.deepEqual(entities.delete(accountA, id), { ok: true }, scope.type);
    }
  });

  it('tells why a publisher’s first rule may not have placements or dates: it would become the base, so create the base first', () => {
    const publisher = stored(store.publishers.create(accountA, { name: 'First', externalId: null }, NOW_MS));
    const placement = stored(
      store.placements.create(accountA, { publisherId: publisher.id, name: 'p' }, NOW_MS),
    );
    const refused = store.paymentRules.create(
      accountA,
      paymentRuleInput(publisher.id, { placementIds: [placement.id], endDate: '2030-01-31' }),
      NOW_MS,
    );
    assert.ok(
      !refused.ok && refused.reason === 'invalid',
      `a publisher’s first rule, with placements and an end date, is refused as invalid; got ${JSON.stringify(refused)}`,
    );
    assert.deepEqual(
      refused.problems.map((problem) => problem.field),
      ['placementIds', 'endDate'],
    );
    for (const problem of refused.problems) {
      assert.match(problem.message, /has no base rule yet, so this rule would be its base rule/);
      assert.match(problem.message, /create the base rule first, without conditions, then this one/);
    }
  });

  it('refuses isBase: false on a publisher’s first payment rule, which becomes its base', () => {
    const publisher = stored(
      store.publishers.create(accountA, { name: 'No base', externalId: null }, NOW_MS),
    );
    const refused = store.paymentRules.create(
      accountA,
      paymentRuleInput(publisher.id, { isBase: false }),
      NOW_MS,
    );
    assert.ok(
      !refused.ok && refused.reason === 'invalid',
      `a first rule that is not base is refused as invalid; got ${JSON.stringify(refused)}`,
    );
    assert.equal(refused.problems[0]?.field, 'isBase');
    assert.match(refused.problems[0]?.message ?? '', /has no base rule yet, so its first rule is the base/);
    assert.deepEqual(
      store.paymentRules.list(accountA, { filter: { publisherId: publisher.id }, limit: 10 }),
      [],
    );
  });

  it('never reuses the id of a deleted object', () => {
    const created = stored(store.advertisers.create(accountA, { name: 'short-lived' }, NOW_MS));
    assert.deepEqual(store.advertisers.delete(accountA, created.id), { ok: true });
    const next = stored(store.advertisers.create(accountA, { name: 'next' }, NOW_MS));
    assert.ok(next.id > created.id, `the next id ${next.id} is past the deleted ${created.id}`);
  });

  it('pages lists by id and filters names case-insensitively', () => {
    const names = ['Alpha One', 'beta', 'ALPHA two'];
    const ids = names.map((name) => stored(store.advertisers.create(accountB, { name }, NOW_MS)).id);
    const alphas = store.advertisers.list(accountB, { filter: { name: 'alpha' }, limit: 10 });
    assert.deepEqual(
      alphas.map((advertiser) => advertiser.name),
      ['Alpha One', 'ALPHA two'],
    );
    const page = store.advertisers.list(accountB, { filter: {}, afterId: ids[0], limit: 1 });
    assert.deepEqual(
      page.map((advertiser) => advertiser.id),
      [ids[1]],
    );
  });

  it('bumps the catalog version on each successful write and never on a refused one', () => {
    const before = store.version();
    stored(store.advertisers.create(accountA, { name: 'v' }, NOW_MS));
    assert.equal(store.version(), before + 1);
    store.lineItems.create(
      accountA,
      { advertiserId: 999_999, name: 'x', revenueType: 'none', revenueValueMicros: 0, state: 'active' },
      NOW_MS,
    );
    assert.equal(store.version(), before + 1);
    store.setRedirectAllowlist(accountA, { enabled: true, domains: ['example.com'] }, NOW_MS);
    assert.equal(store.version(), before + 2);
  });
});

describe('catalog snapshot', () => {
  let dir: string;
  let db: Database.Database;
  let otherDb: Database.Database;
  let store: SqliteCatalogStore;
  let otherStore: SqliteCatalogStore;
  let snapshot: CatalogSnapshot;
  let accountA: number;
  let accountB: number;

  const setup = (target: SqliteCatalogStore, accountId: number) =>
    chain(target, accountId, { revenueType: 'cost_plus_margin', revenueValueMicros: 250_000 });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tally-snapshot-'));
    db = openSqlite(join(dir, 'tally.db'));
    otherDb = openSqlite(join(dir, 'tally.db'));
    const accounts = new SqliteAccountStore(db);
    accountA = accounts.createAccount('A', NOW_MS).id;
    accountB = accounts.createAccount('B', NOW_MS).id;
    store = new SqliteCatalogStore(db);
    otherStore = new SqliteCatalogStore(otherDb);
    snapshot = new CatalogSnapshot(store, { pollIntervalMs: 250 });
    snapshot.start();
  });
  after(() => {
    snapshot.stop();
    otherDb.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a tracker written through another connection at a later poll', async () => {
    const ids = setup(otherStore, accountA);
    const created = stored(otherStore.trackers.create(accountA, trackerInput(ids, { code: 'far' }), NOW_MS));
    await until(
      () => Promise.resolve(snapshot.current().findTracker('impression', { id: created.id }) !== undefined),
      'the tracker written through the other connection in the snapshot',
    );
    const view = snapshot.current().findTracker('impression', { code: 'far' });
    assert.equal(view?.id, created.id);
    assert.equal(view?.lineItem.revenueType, 'cost_plus_margin');
    assert.equal(view?.lineItem.revenueValueMicros, 250_000);
    assert.equal(Object.isFrozen(view), true, 'the snapshot’s tracker view is frozen');
  });

  it('shows its own writes on the very next read', () => {
    const ids = setup(store, accountA);
    const created = stored(store.trackers.create(accountA, trackerInput(ids, { state: 'inactive' }), NOW_MS));
    const view = snapshot.current().findTracker('impression', { id: created.id });
    assert.equal(view?.state, 'inactive');
    assert.equal(snapshot.current().findTracker('click', { id: created.id }), undefined);
    stored(store.trackers.update(accountA, created.id, trackerInput(ids, { state: 'active' }), NOW_MS));
    assert.equal(snapshot.current().findTracker('impression', { id: created.id })?.state, 'active');
  });

  it('hands the hot path who fires a tracker’s hits, as its own writes and another connection’s set it, a click tracker’s as an impression tracker’s', async () => {
    const ids = setup(store, accountA);
    const app = stored(store.trackers.create(accountA, trackerInput(ids, { firedBy: 'app' }), NOW_MS));
    assert.equal(snapshot.current().findTracker('impression', { id: app.id })?.firedBy, 'app');
    stored(otherStore.trackers.update(accountA, app.id, trackerInput(ids, { firedBy: 'browser' }), NOW_MS));
    await until(
      () =>
        Promise.resolve(snapshot.current().findTracker('impression', { id: app.id })?.firedBy === 'browser'),
      'the other connection’s firedBy in the snapshot',
    );
    const click = stored(
      store.trackers.create(
        accountA,
        trackerInput(ids, { kind: 'click', clickUrl: 'https://shop.example/', firedBy: 'app' }),
        NOW_MS,
      ),
    );
    assert.equal(click.firedBy, 'app');
    assert.equal(snapshot.current().findTracker('click', { id: click.id })?.firedBy, 'app');
  });

  it('looks a code up in the named account, else in the operator’s, so another account reusing it changes nothing', () => {
    const a = setup(store, accountA);
    const b = setup(store, accountB);
    const inA = stored(store.trackers.create(accountA, trackerInput(a, { code: 'twice' }), NOW_MS));
    const inB = stored(store.trackers.create(accountB, trackerInput(b, { code: 'twice' }), NOW_MS));
    const view = snapshot.current();
    assert.equal(accountA, OPERATOR_ACCOUNT_ID, 'the first account is the operator’s');
    assert.equal(view.findTracker('impression', { code: 'twice' })?.id, inA.id);
    assert.equal(view.findTracker('impression', { code: 'twice', accountId: accountA })?.id, inA.id);
    assert.equal(view.findTracker('impression', { code: 'twice', accountId: accountB })?.id, inB.id);
    assert.equal(view.findTracker('click', { code: 'twice', accountId: accountA }), undefined);
  });

  it('orders a publisher’s payment rules for evaluation: conditional by priority then id, base last, inactive left out', () => {
    const ids = setup(store, accountA);
    const publisherId = ids.publisher.id;
    const base = stored(store.paymentRules.create(accountA, paymentRuleInput(publisherId), NOW_MS));
    const low = stored(
      store.paymentRules.create(accountA, paymentRuleInput(publisherId, { priority: 2 }), NOW_MS),
    );
    const highOld = stored(
      store.paymentRules.create(accountA, paymentRuleInput(publisherId, { priority: 9 }), NOW_MS),
    );
    const highNew = stored(
      store.paymentRules.create(
        accountA,
        paymentRuleInput(publisherId, {
          priority: 9,
          pricingType: 'cpm',
          revshareMicros: null,
          costCpmMicros: 1_500_000,
          startDate: '2026-01-01',
          endDate: '2026-01-31',
        }),
        NOW_MS,
      ),
    );
    stored(
      store.paymentRules.create(
        accountA,
        paymentRuleInput(publisherId, { priority: 10, state: 'inactive' }),
        NOW_MS,
      ),
    );
    const explicit = stored(
      store.trackers.create(accountA, trackerInput(ids, { paymentRuleId: low.id }), NOW_MS),
    );

    const view = snapshot.current();
    const rules = view.paymentRules(publisherId);
    assert.deepEqual(
      rules.map((entry) => entry.id),
      [highOld.id, highNew.id, low.id, base.id],
    );
    assert.equal(rules.at(-1)?.isBase, true);
    const dated = rules[1];
    assert.equal(dated?.costCpmMicros, 1_500_000);
    assert.equal(dated?.startMs, Date.UTC(2026, 0, 1));
    assert.equal(dated?.endMs, Date.UTC(2026, 1, 1));
    const tracker = view.findTracker('impression', { id: explicit.id });
    assert.equal(tracker?.paymentRule?.id, low.id);
    assert.deepEqual(view.paymentRules(999_999), []);
  });

  it('hands the hot path what it prices with: the tracker’s owners, placement and click URL, its line item’s state, each rule’s placements and default-cost switch', () => {
    const chained = setup(store, accountB);
    // Its own publisher, so that no two of the tracker's ids are equal by chance.
    const publisher = stored(
      store.publishers.create(accountB, { name: 'Other pub', externalId: null }, NOW_MS),
    );
    const ids = { ...chained, publisher };
    assert.notEqual(publisher.id, ids.advertiser.id);
    const placement = stored(
      store.placements.create(accountB, { publisherId: ids.publisher.id, name: 'top' }, NOW_MS),
    );
    stored(store.paymentRules.create(accountB, paymentRuleInput(ids.publisher.id), NOW_MS));
    const onTop = stored(
      store.paymentRules.create(
        accountB,
        paymentRuleInput(ids.publisher.id, {
          pricingType: 'cpm',
          revshareMicros: null,
          costCpmMicros: 1_000_000,
          applyCostOnDefault: true,
          placementIds: [placement.id],
        }),
        NOW_MS,
      ),
    );
    stored(
      store.lineItems.update(
        accountB,
        ids.lineItem.id,
        {
          advertiserId: ids.advertiser.id,
          name: 'LI',
          revenueType: 'cost_plus_margin',
          revenueValueMicros: 250_000,
          state: 'inactive',
        },
        NOW_MS,
      ),
    );
    const click = stored(
      store.trackers.create(
        accountB,
        trackerInput(ids, {
          kind: 'click',
          code: 'landing',
          placementId: placement.id,
          paymentRuleId: onTop.id,
          clickUrl: 'https://shop.example/landing',
        }),
        NOW_MS,
      ),
    );

    const view = snapshot.current();
    const found = view.findTracker('click', { id: click.id });
    assert.deepEqual(
      { ...found, lineItem: found?.lineItem, paymentRule: found?.paymentRule?.id },
      {
        id: click.id,
        kind: 'click',
        accountId: accountB,
        code: 'landing',
        state: 'active',
        advertiserId: ids.advertiser.id,
        lineItem: {
          id: ids.lineItem.id,
          advertiserId: ids.advertiser.id,
          revenueType: 'cost_plus_margin',
          revenueValueMicros: 250_000,
          state: 'inactive',
        },
        publisherId: ids.publisher.id,
        placementId: placement.id,
        paymentRule: onTop.id,
        clickUrl: 'https://shop.example/landing',
        firedBy: 'browser',
      },
    );
    const conditional = view.paymentRules(ids.publisher.id)[0];
    assert.deepEqual(
      [conditional?.id, conditional?.placementIds, conditional?.applyCostOnDefault],
      [onTop.id, [placement.id], true],
    );
  });

  it('answers the account’s redirect allow-list, disabled by default', async () => {
    assert.deepEqual(snapshot.current().redirectAllowlist(accountB), { enabled: false, domains: [] });
    otherStore.setRedirectAllowlist(accountB, { enabled: true, domains: ['example.com'] }, NOW_MS);
    await until(
      () => Promise.resolve(snapshot.current().redirectAllowlist(accountB).enabled),
      'the other connection’s allow-list in the snapshot',
    );
    assert.deepEqual(snapshot.current().redirectAllowlist(accountB), {
      enabled: true,
      domains: ['example.com'],
    });
  });
});

describe('SQLite account store', () => {
  let dir: string;
  let db: Database.Database;
  let accounts: SqliteAccountStore;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tally-accounts-'));
    db = openSqlite(join(dir, 'tally.db'));
    accounts = new SqliteAccountStore(db);
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds an account by its own id only', () => {
    const first = accounts.createAccount('First', NOW_MS);
    const second = accounts.createAccount('Second', NOW_MS + 1);
    assert.deepEqual(accounts.getAccount(second.id), {
      id: second.id,
      name: 'Second',
      createdMs: NOW_MS + 1,
    });
    assert.equal(accounts.getAccount(first.id)?.name, 'First');
    assert.equal(accounts.getAccount(second.id + 1000), undefined);
  });

  it('counts only a live, account-wide admin key as the account’s admin key', () => {
    const account = accounts.createAccount('Admins', NOW_MS).id;
    const add = (hash: string, role: 'reader' | 'editor' | 'admin', scope: KeyScope | null) =>
      accounts.addKey(account, hash, 'tally_x', hash, role, scope, NOW_MS);
    add('editor-key', 'editor', null);
    add('scoped-admin-key', 'admin', { type: 'advertiser', id: 1 });
    const revoked = add('revoked-admin-key', 'admin', null);
    accounts.revokeKey(account, revoked.id, NOW_MS);
    assert.equal(accounts.hasAdminKey(account), false);
    add('admin-key', 'admin', null);
    assert.equal(accounts.hasAdminKey(account), true);
  });

  it('revokes a key only in its own account, and tells a revoked key from a live or unknown one', () => {
    const owner = accounts.createAccount('Owner', NOW_MS).id;
    const stranger = accounts.createAccount('Stranger', NOW_MS).id;
    const key = accounts.addKey(owner, 'owned-key', 'tally_x', 'owned', 'reader', null, NOW_MS);
    assert.equal(accounts.revokeKey(stranger, key.id, NOW_MS), false);
    assert.equal(accounts.findKey('owned-key')?.id, key.id);
    assert.equal(accounts.keyHashRevoked('owned-key'), false);
    assert.equal(accounts.keyHashRevoked('no-such-key'), false);
    assert.equal(accounts.revokeKey(owner, key.id, NOW_MS + 5), true);
    assert.equal(accounts.revokeKey(owner, key.id, NOW_MS + 6), false, 'already revoked');
    assert.equal(accounts.findKey('owned-key'), undefined);
    assert.equal(accounts.keyHashRevoked('owned-key'), true);
    assert.equal(accounts.listKeys(owner)[0]?.revokedMs, NOW_MS + 5);
  });
});
