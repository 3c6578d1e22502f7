import { NO_REDIRECT_ALLOWLIST } from './domain/tracker-hit.js';
import { LayeredMap } from './lib/layered-map.js';
import { OPERATOR_ACCOUNT_ID } from './ports/accounts.js';
import type {
  CatalogChange,
  CatalogData,
  CatalogSource,
  CatalogView,
  LineItem,
  LineItemView,
  PaymentRule,
  PaymentRuleView,
  RedirectAllowlist,
  Tracker,
  TrackerKind,
  TrackerView,
} from './ports/catalog.js';

const DAY_MS = 86_400_000;

/** When a payment rule's `endDate` (`YYYY-MM-DD`, a UTC day it applies through) ends: 24:00 UTC. */
export function ruleEndMs(endDate: string): number {
  return Date.parse(`${endDate}T00:00:00Z`) + DAY_MS;
}

const NO_RULES: readonly PaymentRuleView[] = Object.freeze([]);

type AllowlistView = ReturnType<CatalogView['redirectAllowlist']>;

/**
 * The catalog's lookup tables at one version, the frozen objects the hot path reads. Never
 * changed once built: applying a change makes new versions of the tables it touches (the small
 * ones copied, the tracker tables layered) and shares the others, so a view handed out earlier
 * keeps answering what it answered.
 */
export interface CatalogTables {
  readonly version: number;
  /** See `CatalogView.highestTrackerId`. */
  readonly highestTrackerId: number;
  readonly lineItems: ReadonlyMap<number, LineItemView>;
  /** Every payment rule, by id (inactive ones too: a tracker's view holds its own rule whatever its state, and the hot path decides whether it is in effect). */
  readonly rules: ReadonlyMap<number, PaymentRuleView>;
  /** Each publisher's rules in evaluation order (see `CatalogView.paymentRules`). */
  readonly rulesByPublisher: ReadonlyMap<number, readonly PaymentRuleView[]>;
  /** The stored trackers, by id: a tracker's view is built again from it when its line item or rules change. */
  readonly trackerRows: LayeredMap<number, Tracker>;
  readonly trackers: LayeredMap<number, TrackerView>;
  /** Trackers with a code, by kind and code, in id order (a code repeats across accounts). */
  readonly trackersByCode: LayeredMap<string, readonly TrackerView[]>;
  /** Only accounts that stored an allow-list; the others have the default. */
  readonly allowlists: ReadonlyMap<number, AllowlistView>;
}

/** Builds the tables of one catalog version from all of it. */
export function tablesOf(data: CatalogData): CatalogTables {
  const lineItems = new Map(data.lineItems.map((item) => [item.id, lineItemView(item)]));
  const rules = new Map(data.paymentRules.map((rule) => [rule.id, ruleView(rule)]));
  const byPublisher = new Map<number, PaymentRuleView[]>();
  for (const rule of rules.values()) {
    const own = byPublisher.get(rule.publisherId) ?? [];
    own.push(rule);
    byPublisher.set(rule.publisherId, own);
  }
  const rulesByPublisher = new Map<number, readonly PaymentRuleView[]>();
  for (const [publisherId, own] of byPublisher) rulesByPublisher.set(publisherId, evaluationOrder(own));
  const allowlists = new Map<number, AllowlistView>();
  for (const [accountId, allowlist] of data.redirectAllowlists)
    allowlists.set(accountId, allowlistView(allowlist));
  const tables = {
    version: data.version,
    highestTrackerId: data.highestTrackerId,
    lineItems,
    rules,
    rulesByPublisher,
    trackerRows: LayeredMap.of(data.trackers.map((tracker) => [tracker.id, tracker] as const)),
    trackers: LayeredMap.of<number, TrackerView>([]),
    trackersByCode: LayeredMap.of<string, readonly TrackerView[]>([]),
    allowlists,
  };
  return withTrackerViews(
    tables,
    data.trackers.map((tracker) => tracker.id),
  );
}

/**
 * The tables after one committed change, reading from `source` only the objects the change can
 * have touched: the tracker; the line item and its trackers; every rule of the rule's publisher
 * and the trackers naming one of them; the account's allow-list. Advertisers, publishers and
 * placements are not in the tables: their changes only move the version.
 */
export function withChange(
  tables: CatalogTables,
  change: CatalogChange,
  source: CatalogSource,
): CatalogTables {
  const next = { ...tables, version: change.version };
  switch (change.kind) {
    case 'tracker': {
      const trackerRows = tables.trackerRows.with([[change.id, source.trackerById(change.id)]]);
      // Ids are issued in order: a new tracker's is the highest yet.
      const highestTrackerId = Math.max(tables.highestTrackerId, change.id);
      return withTrackerViews({ ...next, highestTrackerId, trackerRows }, [change.id]);
    }
    case 'lineItem': {
      const lineItems = new Map(tables.lineItems);
      const row = source.lineItemById(change.id);
      if (row === undefined) lineItems.delete(change.id);
      else lineItems.set(row.id, lineItemView(row));
      return withTrackerViews(
        { ...next, lineItems },
        trackerIdsWhere(tables, (tracker) => tracker.lineItemId === change.id),
      );
    }
    case 'paymentRule':
      return withPublisherRules(next, change.id, source);
    case 'redirectAllowlist': {
      const allowlists = new Map(tables.allowlists);
      allowlists.set(change.id, allowlistView(source.redirectAllowlist(change.id)));
      return { ...next, allowlists };
    }
    case 'advertiser':
    case 'publisher':
    case 'placement':
      return next;
  }
}

/** The view the hot path reads, over one version's tables. */
export function viewOf(tables: CatalogTables): CatalogView {
  return Object.freeze({
    version: tables.version,
    highestTrackerId: tables.highestTrackerId,
    findTracker(kind: TrackerKind, by: { id: number } | { code: string; accountId?: number }) {
      if ('id' in by) {
        const tracker = tables.trackers.get(by.id);
        return tracker?.kind === kind ? tracker : undefined;
      }
      const candidates = tables.trackersByCode.get(codeKey(kind, by.code)) ?? [];
      const accountId = by.accountId ?? OPERATOR_ACCOUNT_ID;
      return candidates.find((tracker) => tracker.accountId === accountId);
    },
    redirectAllowlist: (accountId: number) => tables.allowlists.get(accountId) ?? NO_REDIRECT_ALLOWLIST,
    paymentRules: (publisherId: number) => tables.rulesByPublisher.get(publisherId) ?? NO_RULES,
  });
}

/**
 * Reloads every rule of the publishers the rule belonged to before and after the write (one
 * write can change several: a new base rule demotes the old one), and the views of the trackers
 * that name one of those rules as their own.
 */
function withPublisherRules(tables: CatalogTables, ruleId: number, source: CatalogSource): CatalogTables {
  const publisherIds = new Set<number>();
  const before = tables.rules.get(ruleId);
  if (before !== undefined) publisherIds.add(before.publisherId);
  const after = source.paymentRuleById(ruleId);
  if (after !== undefined) publisherIds.add(after.publisherId);

  const rules = new Map(tables.rules);
  rules.delete(ruleId);
  const rulesByPublisher = new Map(tables.rulesByPublisher);
  for (const publisherId of publisherIds) {
    for (const rule of source.paymentRulesOfPublisher(publisherId)) rules.set(rule.id, ruleView(rule));
    const own = [...rules.values()].filter((rule) => rule.publisherId === publisherId);
    if (own.length === 0) rulesByPublisher.delete(publisherId);
    else rulesByPublisher.set(publisherId, evaluationOrder(own));
  }
  // A tracker's own rule is one of its publisher's (the schema's composite key sees to it).
  return withTrackerViews(
    { ...tables, rules, rulesByPublisher },
    trackerIdsWhere(
      tables,
      (tracker) => tracker.paymentRuleId !== null && publisherIds.has(tracker.publisherId),
    ),
  );
}

function trackerIdsWhere(tables: CatalogTables, test: (tracker: Tracker) => boolean): number[] {
  const ids: number[] = [];
  for (const tracker of tables.trackerRows.values()) if (test(tracker)) ids.push(tracker.id);
  return ids;
}

/**
 * Builds again the views of the given trackers (distinct ids) from their rows and the other
 * tables, dropping those whose row is gone or whose line item is not in the tables.
 */
function withTrackerViews(tables: CatalogTables, trackerIds: readonly number[]): CatalogTables {
  if (trackerIds.length === 0) return tables;
  const views = new Map<number, TrackerView | undefined>();
  const codes = new Map<string, readonly TrackerView[]>();
  const codeList = (key: string) => codes.get(key) ?? tables.trackersByCode.get(key) ?? [];
  for (const id of trackerIds) {
    const old = tables.trackers.get(id);
    if (old !== undefined && old.code !== null) {
      const key = codeKey(old.kind, old.code);
      codes.set(
        key,
        codeList(key).filter((tracker) => tracker.id !== id),
      );
    }
    const row = tables.trackerRows.get(id);
    const view = row === undefined ? undefined : trackerView(row, tables);
    views.set(id, view);
    if (view !== undefined && view.code !== null) {
      const key = codeKey(view.kind, view.code);
      codes.set(
        key,
        [...codeList(key), view].sort((a, b) => a.id - b.id),
      );
    }
  }
  return {
    ...tables,
    trackers: tables.trackers.with(views),
    trackersByCode: tables.trackersByCode.with(
      [...codes].map(([key, list]) => [key, list.length === 0 ? undefined : list] as const),
    ),
  };
}

function trackerView(tracker: Tracker, tables: CatalogTables): TrackerView | undefined {
  const lineItem = tables.lineItems.get(tracker.lineItemId);
  if (lineItem === undefined) return undefined;
  return Object.freeze({
    id: tracker.id,
    kind: tracker.kind,
    accountId: tracker.accountId,
    code: tracker.code,
    state: tracker.state,
    advertiserId: tracker.advertiserId,
    lineItem,
    publisherId: tracker.publisherId,
    placementId: tracker.placementId,
    paymentRule: tracker.paymentRuleId === null ? null : (tables.rules.get(tracker.paymentRuleId) ?? null),
    clickUrl: tracker.clickUrl,
    firedBy: tracker.firedBy,
  });
}

/** One publisher's rules in evaluation order: active conditional rules by priority (highest first), ties by id, then the base rule. */
function evaluationOrder(own: readonly PaymentRuleView[]): readonly PaymentRuleView[] {
  const conditional = own
    .filter((rule) => !rule.isBase && rule.state === 'active')
    .sort((a, b) => b.priority - a.priority || a.id - b.id);
  const base = own.filter((rule) => rule.isBase).sort((a, b) => a.id - b.id);
  return Object.freeze([...conditional, ...base]);
}

function lineItemView(item: LineItem): LineItemView {
  return Object.freeze({
    id: item.id,
    advertiserId: item.advertiserId,
    revenueType: item.revenueType,
    revenueValueMicros: item.revenueValueMicros,
    state: item.state,
  });
}

function ruleView(rule: PaymentRule): PaymentRuleView {
  return Object.freeze({
    id: rule.id,
    publisherId: rule.publisherId,
    name: rule.name,
    pricingType: rule.pricingType,
    revshareMicros: rule.revshareMicros ?? 0,
    costCpmMicros: rule.costCpmMicros ?? 0,
    applyCostOnDefault: rule.applyCostOnDefault,
    maxRevshareMicros: rule.maxRevshareMicros ?? 0,
    targetEcpmMicros: rule.targetEcpmMicros ?? 0,
    priority: rule.priority,
    isBase: rule.isBase,
    state: rule.state,
    startMs: rule.startDate === null ? null : Date.parse(`${rule.startDate}T00:00:00Z`),
    endMs: rule.endDate === null ? null : ruleEndMs(rule.endDate),
    placementIds: Object.freeze([...rule.placementIds]),
  });
}

function allowlistView(allowlist: RedirectAllowlist): AllowlistView {
  return Object.freeze({ enabled: allowlist.enabled, domains: Object.freeze([...allowlist.domains]) });
}

function codeKey(kind: TrackerKind, code: string): string {
  return `${kind}\n${code}`;
}
