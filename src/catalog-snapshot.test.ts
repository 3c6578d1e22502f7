import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { SqliteAccountStore } from './adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from './adapters/sqlite/catalog.js';
import { openSqlite } from './adapters/sqlite/database.js';
import { CatalogSnapshot } from './catalog-snapshot.js';
import { tablesOf, viewOf } from './catalog-tables.js';
import { jsonLogger } from './lib/log.js';
import type { CatalogSource, CatalogView, TrackerInput, TrackerKind } from './ports/catalog.js';
import { paymentRuleInput } from '../test/support/payment-rules.js';
import { until } from '../test/support/until.js';

const NOW_MS = Date.UTC(2026, 10, 22);
const KINDS: readonly TrackerKind[] = ['impression', 'click'];
const CODES = ['a', 'b'];

/** One catalog write, naming the objects it refers to by position among those created so far. */
type Operation =
  | { op: 'advertiser' }
  | { op: 'publisher' }
  | { op: 'placement'; publisher: number }
  | { op: 'lineItem'; advertiser: number; cpmMicros: number; active: boolean; update: number | null }
  | {
      op: 'rule';
      publisher: number;
      priority: number;
      active: boolean;
      base: boolean | undefined;
      placement: number | null;
      update: number | null;
    }
  | {
      op: 'tracker';
      kind: TrackerKind;
      lineItem: number;
      publisher: number;
      rule: number | null;
      code: string | null;
      active: boolean;
      update: number | null;
    }
  | { op: 'delete'; what: 'lineItem' | 'rule' | 'tracker' | 'placement'; index: number }
  | { op: 'allowlist'; account: number; enabled: boolean };

const index = fc.nat({ max: 7 });
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.constant({ op: 'advertiser' as const }),
  fc.constant({ op: 'publisher' as const }),
  fc.record({ op: fc.constant('placement' as const), publisher: index }),
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('lineItem' as const),
      advertiser: index,
      cpmMicros: fc.integer({ min: 0, max: 5_000_000 }),
      active: fc.boolean(),
      update: maybe(index),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('rule' as const),
      publisher: index,
      priority: fc.integer({ min: 1, max: 10 }),
      active: fc.boolean(),
      base: fc.option(fc.boolean(), { nil: undefined }),
      placement: maybe(index),
      update: maybe(index),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('tracker' as const),
      kind: fc.constantFrom(...KINDS),
      lineItem: index,
      publisher: index,
      rule: maybe(index),
      code: maybe(fc.constantFrom(...CODES)),
      active: fc.boolean(),
      update: maybe(index),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('delete' as const),
      what: fc.constantFrom('lineItem' as const, 'rule' as const, 'tracker' as const, 'placement' as const),
      index,
    }),
  },
  fc.record({ op: fc.constant('allowlist' as const), account: fc.nat({ max: 1 }), enabled: fc.boolean() }),
);

/** What each account holds before the writes under test: two of everything, each publisher with a base rule. */
const SEED: readonly Operation[] = [
  { op: 'advertiser' },
  { op: 'advertiser' },
  { op: 'publisher' },
  { op: 'publisher' },
  { op: 'placement', publisher: 0 },
  { op: 'placement', publisher: 1 },
  ...[0, 1].map((at) => ({
    op: 'lineItem' as const,
    advertiser: at,
    cpmMicros: 1_000_000,
    active: true,
    update: null,
  })),
  ...[0, 1].map((at) => ({
    op: 'rule' as const,
    publisher: at,
    priority: 5,
    active: true,
    base: undefined,
    placement: null,
    update: null,
  })),
  ...[0, 1, 2, 3].map((at) => ({
    op: 'tracker' as const,
    kind: KINDS[at % 2] ?? 'impression',
    lineItem: at,
    publisher: at + 1,
    rule: at === 3 ? 1 : null,
    code: at < 2 ? 'a' : null,
    active: true,
    update: null,
  })),
];

/** Everything a view answers about the objects created so far, through its public lookups only. */
function answers(view: CatalogView, ids: Created, accountIds: readonly number[]): unknown {
  return {
    version: view.version,
    highestTrackerId: view.highestTrackerId,
    byId: ids.trackers.flatMap((id) => KINDS.map((kind) => view.findTracker(kind, { id }) ?? null)),
    byCode: KINDS.flatMap((kind) =>
      CODES.flatMap((code) => [
        view.findTracker(kind, { code }) ?? null,
        ...accountIds.map((accountId) => view.findTracker(kind, { code, accountId }) ?? null),
      ]),
    ),
    rules: ids.publishers.map((id) => view.paymentRules(id)),
    allowlists: accountIds.map((id) => view.redirectAllowlist(id)),
  };
}

/** Ids of what was created, with the account each belongs to. */
interface Created {
  advertisers: number[];
  publishers: number[];
  placements: number[];
  lineItems: number[];
  rules: number[];
  trackers: number[];
}

/** Runs one operation against the store; refusals (a reference in the wrong account, say) are part of the model. */
function run(store: SqliteCatalogStore, accountId: number, ids: Created, operation: Operation): void {
  const pick = (list: number[], at: number | null) =>
    at === null || list.length === 0 ? null : (list[at % list.length] ?? null);
  const keep = (list: number[], result: { ok: boolean; value?: { id: number } }) => {
    if (result.ok && result.value !== undefined && !list.includes(result.value.id))
      list.push(result.value.id);
  };
  switch (operation.op) {
    case 'advertiser':
      keep(ids.advertisers, store.advertisers.create(accountId, { name: 'adv' }, NOW_MS));
      return;
    case 'publisher':
      keep(ids.publishers, store.publishers.create(accountId, { name: 'pub', externalId: null }, NOW_MS));
      return;
    case 'placement': {
      const publisherId = pick(ids.publishers, operation.publisher);
      if (publisherId === null) return;
      keep(ids.placements, store.placements.create(accountId, { publisherId, name: 'pl' }, NOW_MS));
      return;
    }
    case 'lineItem': {
      const advertiserId = pick(ids.advertisers, operation.advertiser);
      if (advertiserId === null) return;
      const input = {
        advertiserId,
        name: 'li',
        revenueType: 'cpm' as const,
        revenueValueMicros: operation.cpmMicros,
        state: operation.active ? ('active' as const) : ('inactive' as const),
      };
      const existing = pick(ids.lineItems, operation.update);
      if (existing === null) keep(ids.lineItems, store.lineItems.create(accountId, input, NOW_MS));
      else store.lineItems.update(accountId, existing, input, NOW_MS);
      return;
    }
    case 'rule': {
      const publisherId = pick(ids.publishers, operation.publisher);
      if (publisherId === null) return;
      const placementId = pick(ids.placements, operation.placement);
      const input = paymentRuleInput(publisherId, {
        revshareMicros: 400_000,
        priority: operation.priority,
        isBase: operation.base,
        state: operation.active ? 'active' : 'inactive',
        placementIds: placementId === null ? [] : [placementId],
      });
      const existing = pick(ids.rules, operation.update);
      if (existing === null) keep(ids.rules, store.paymentRules.create(accountId, input, NOW_MS));
      else store.paymentRules.update(accountId, existing, input, NOW_MS);
      return;
    }
    case 'tracker': {
      const lineItemId = pick(ids.lineItems, operation.lineItem);
      const publisherId = pick(ids.publishers, operation.publisher);
      if (lineItemId === null || publisherId === null) return;
      const lineItem = store.lineItemById(lineItemId);
      if (lineItem === undefined) return;
      const input = {
        kind: operation.kind,
        advertiserId: lineItem.advertiserId,
        name: 'tracker',
        code: operation.code,
        lineItemId,
        publisherId,
        placementId: null,
        paymentRuleId: pick(ids.rules, operation.rule),
        state: operation.active ? ('active' as const) : ('inactive' as const),
        clickUrl: operation.kind === 'click' ? 'https://example.com/landing' : null,
        firedBy: 'browser' as const,
      };
      const existing = pick(ids.trackers, operation.update);
      if (existing === null) keep(ids.trackers, store.trackers.create(accountId, input, NOW_MS));
      else store.trackers.update(accountId, existing, input, NOW_MS);
      return;
    }
    case 'delete': {
      const stores = {
        lineItem: [store.lineItems, ids.lineItems],
        rule: [store.paymentRules, ids.rules],
        tracker: [store.trackers, ids.trackers],
        placement: [store.placements, ids.placements],
      } as const;
      const [entities, list] = stores[operation.what];
      const id = pick(list, operation.index);
      if (id !== null) entities.delete(accountId, id);
      return;
    }
    case 'allowlist':
      store.setRedirectAllowlist(
        accountId,
        { enabled: operation.enabled, domains: operation.enabled ? ['example.com'] : [] },
        NOW_MS,
      );
      return;
  }
}

describe('catalog snapshot, applying each write in place', () => {
  it('answers after every write exactly what a snapshot built from the whole catalog answers, without reading the whole catalog again', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 1 }), operation), { minLength: 20, maxLength: 60 }),
        (operations) => {
          const dir = mkdtempSync(join(tmpdir(), 'tally-snapshot-model-'));
          const db = openSqlite(join(dir, 'tally.db'));
          try {
            const accounts = new SqliteAccountStore(db);
            const accountIds = [
              accounts.createAccount('A', NOW_MS).id,
              accounts.createAccount('B', NOW_MS).id,
            ];
            const store = new SqliteCatalogStore(db);
            let loads = 0;
            const counted: CatalogSource = Object.assign(Object.create(store) as SqliteCatalogStore, {
              load: () => {
                loads++;
                return store.load();
              },
            });
            const created = new Map(
              accountIds.map((id) => [
                id,
                {
                  advertisers: [],
                  publishers: [],
                  placements: [],
                  lineItems: [],
                  rules: [],
                  trackers: [],
                },
              ]),
            );
            for (const [accountId, ids] of created) {
              for (const seed of SEED) run(store, accountId, ids, seed);
            }
            const snapshot = new CatalogSnapshot(counted, { pollIntervalMs: 60_000 });
            snapshot.start();
            const all = (): Created => {
              const lists = [...created.values()];
              const merged = (key: keyof Created) => lists.flatMap((list) => list[key]);
              return {
                advertisers: merged('advertisers'),
                publishers: merged('publishers'),
                placements: merged('placements'),
                lineItems: merged('lineItems'),
                rules: merged('rules'),
                trackers: merged('trackers'),
              };
            };
            let earlier: { view: CatalogView; ids: Created; answered: unknown } | undefined;
            for (const [account, step] of operations) {
              const accountId = accountIds[account] ?? accountIds[0] ?? 0;
              run(store, accountId, created.get(accountId) ?? all(), step);
              const view = snapshot.current();
              const expected = viewOf(tablesOf(store.load()));
              assert.deepEqual(answers(view, all(), accountIds), answers(expected, all(), accountIds));
              if (earlier !== undefined) {
                const again = answers(earlier.view, earlier.ids, accountIds);
                assert.deepEqual(again, earlier.answered, 'an older view changed');
              }
              const ids = all();
              earlier = { view, ids, answered: answers(view, ids, accountIds) };
            }
            snapshot.stop();
            assert.equal(loads, 1, 'the snapshot read the whole catalog again after a local write');
          } finally {
            db.close();
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('catalog snapshot, following writes made here and elsewhere', () => {
  let dir: string;
  let store: SqliteCatalogStore;
  /** The same database through another connection: its writes are never heard, only polled. */
  let elsewhere: SqliteCatalogStore;
  let accountId: number;
  let closeAll: () => void;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tally-snapshot-follow-'));
    const db = openSqlite(join(dir, 'tally.db'));
    const otherDb = openSqlite(join(dir, 'tally.db'));
    accountId = new SqliteAccountStore(db).createAccount('A', NOW_MS).id;
    store = new SqliteCatalogStore(db);
    elsewhere = new SqliteCatalogStore(otherDb);
    closeAll = () => {
      otherDb.close();
      db.close();
    };
  });
  afterEach(() => {
    closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An impression tracker input on a fresh advertiser, line item and publisher, created through `target`. */
  const trackerOn = (target: SqliteCatalogStore, code: string): TrackerInput => {
    const created = <T>(result: { ok: boolean; value?: T }): T => {
      assert.ok(result.ok && result.value !== undefined, JSON.stringify(result));
      return result.value;
    };
    const advertiser = created(target.advertisers.create(accountId, { name: 'adv' }, NOW_MS));
    const lineItem = created(
      target.lineItems.create(
        accountId,
        {
          advertiserId: advertiser.id,
          name: 'li',
          revenueType: 'cpm',
          revenueValueMicros: 1_000_000,
          state: 'active',
        },
        NOW_MS,
      ),
    );
    const publisher = created(target.publishers.create(accountId, { name: 'pub', externalId: null }, NOW_MS));
    return {
      kind: 'impression',
      advertiserId: advertiser.id,
      name: code,
      code,
      lineItemId: lineItem.id,
      publisherId: publisher.id,
      placementId: null,
      paymentRuleId: null,
      state: 'active',
      clickUrl: null,
      firedBy: 'browser' as const,
    };
  };
  const idOf = (result: { ok: boolean; value?: { id: number } }): number => {
    assert.ok(result.ok && result.value !== undefined, JSON.stringify(result));
    return result.value.id;
  };
  /** `store` as a source that counts whole-catalog reads and can be made to fail. */
  const faulty = () => {
    const state = { loads: 0, failLoads: false, failTrackerReads: 0 };
    const source: CatalogSource = Object.assign(Object.create(store) as SqliteCatalogStore, {
      load: () => {
        if (state.failLoads) throw new Error('injected load failure');
        state.loads++;
        return store.load();
      },
      trackerById: (id: number) => {
        if (state.failTrackerReads > 0) {
          state.failTrackerReads--;
          throw new Error('injected read failure');
        }
        return store.trackerById(id);
      },
    });
    return { source, state };
  };

  it('shows a write made elsewhere on the read after a local write that follows it, then applies local writes in place again', () => {
    const { source, state } = faulty();
    const snapshot = new CatalogSnapshot(source, { pollIntervalMs: 60_000 });
    snapshot.start();
    try {
      const far = idOf(elsewhere.trackers.create(accountId, trackerOn(elsewhere, 'far'), NOW_MS));
      const nearInput = trackerOn(store, 'near');
      const near = idOf(store.trackers.create(accountId, nearInput, NOW_MS));
      const view = snapshot.current();
      assert.equal(view.version, store.version());
      assert.equal(view.findTracker('impression', { id: far })?.code, 'far');
      assert.equal(view.findTracker('impression', { id: near })?.code, 'near');
      assert.equal(state.loads, 2, 'one rebuild for the write made elsewhere');

      store.trackers.update(accountId, near, { ...nearInput, state: 'inactive' }, NOW_MS);
      assert.equal(snapshot.current().findTracker('impression', { id: near })?.state, 'inactive');
      assert.equal(state.loads, 2, 'the next local write was applied in place');
    } finally {
      snapshot.stop();
    }
  });

  it('rebuilds from the whole catalog when applying a local write in place fails, so the write still shows on the next read', () => {
    const { source, state } = faulty();
    const lines: string[] = [];
    const snapshot = new CatalogSnapshot(
      source,
      { pollIntervalMs: 60_000 },
      jsonLogger((line) => lines.push(line)),
    );
    snapshot.start();
    try {
      const input = trackerOn(store, 'failed-apply');
      state.failTrackerReads = 1;
      const id = idOf(store.trackers.create(accountId, input, NOW_MS));
      assert.equal(snapshot.current().findTracker('impression', { id })?.code, 'failed-apply');
      assert.equal(state.loads, 2);
      assert.match(lines.join(''), /catalog_snapshot_failed.*injected read failure/);
    } finally {
      snapshot.stop();
    }
  });

  it('keeps answering the previous view while rebuilding fails, and catches up at a later poll', async () => {
    const { source, state } = faulty();
    const lines: string[] = [];
    const snapshot = new CatalogSnapshot(
      source,
      { pollIntervalMs: 10 },
      jsonLogger((line) => lines.push(line)),
    );
    snapshot.start();
    try {
      const before = snapshot.current();
      state.failLoads = true;
      const far = idOf(elsewhere.trackers.create(accountId, trackerOn(elsewhere, 'far'), NOW_MS));
      await until(
        () => Promise.resolve(lines.join('').includes('injected load failure')),
        'a poll trying to rebuild',
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(snapshot.current(), before, 'the failed rebuilds left the view as it was');
      state.failLoads = false;
      await until(
        () => Promise.resolve(snapshot.current().findTracker('impression', { id: far }) !== undefined),
        'the snapshot catching up',
      );
    } finally {
      snapshot.stop();
    }
  });

  it('answers the highest tracker id ever issued, a deleted tracker’s included, whether the write was made here or elsewhere', async () => {
    const snapshot = new CatalogSnapshot(store, { pollIntervalMs: 10 });
    snapshot.start();
    try {
      assert.equal(snapshot.current().highestTrackerId, 0);
      const first = idOf(store.trackers.create(accountId, trackerOn(store, 'first'), NOW_MS));
      const second = idOf(store.trackers.create(accountId, trackerOn(store, 'second'), NOW_MS));
      store.trackers.delete(accountId, second);
      assert.deepEqual([first, snapshot.current().highestTrackerId], [second - 1, second]);
      // A whole-catalog read gives it too: the deleted tracker's id is not issued again.
      assert.equal(viewOf(tablesOf(store.load())).highestTrackerId, second);
      const far = idOf(elsewhere.trackers.create(accountId, trackerOn(elsewhere, 'far'), NOW_MS));
      assert.equal(far, second + 1);
      await until(
        () => Promise.resolve(snapshot.current().highestTrackerId === far),
        'the snapshot following the tracker created elsewhere',
      );
    } finally {
      snapshot.stop();
    }
  });

  it('follows no write once stopped, answering the last view it built', () => {
    const snapshot = new CatalogSnapshot(store, { pollIntervalMs: 60_000 });
    snapshot.start();
    const last = snapshot.current();
    snapshot.stop();
    const id = idOf(store.trackers.create(accountId, trackerOn(store, 'after-stop'), NOW_MS));
    assert.equal(snapshot.current(), last);
    assert.equal(snapshot.current().findTracker('impression', { id }), undefined);
  });
});

describe('the catalog snapshot once stopped', () => {
  it('stops polling once stopped: a write made elsewhere afterwards is not followed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-snapshot-stopped-'));
    const db = openSqlite(join(dir, 'tally.db'));
    const otherDb = openSqlite(join(dir, 'tally.db'));
    try {
      const accountId = new SqliteAccountStore(db).createAccount('A', NOW_MS).id;
      const snapshot = new CatalogSnapshot(new SqliteCatalogStore(db), { pollIntervalMs: 5 });
      snapshot.start();
      const last = snapshot.current();
      snapshot.stop();
      const elsewhere = new SqliteCatalogStore(otherDb);
      const created = elsewhere.advertisers.create(accountId, { name: 'after stop' }, NOW_MS);
      assert.ok(created.ok, `the other connection creates an advertiser; got ${JSON.stringify(created)}`);
      assert.notEqual(elsewhere.version(), last.version);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(snapshot.current(), last);
    } finally {
      otherDb.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
