import type { Notifier } from '../domain/ivt.js';
import type { RevenueType } from '../domain/revenue.js';
import type { TrackerKind } from '../domain/tracker-hit.js';
/**
 * The ad-ops catalog: advertisers, line items, publishers, placements, payment rules,
 * impression and click trackers, and per-account settings. Every object belongs to one
 * account; an object of another account behaves exactly like one that does not exist.
 *
 * Money is integer micros of the account's currency. Fractions (revenue shares, margins)
 * are micros of 1: 0.25 → 250000, 1 → 1000000.
 */

/** Whether an object takes part in delivery and counting. */
export type CatalogState = 'active' | 'inactive';
/** Every {@link CatalogState}. */
export const CATALOG_STATES: readonly CatalogState[] = ['active', 'inactive'];

/** How a line item earns revenue; defined with its arithmetic in `domain/revenue.ts`. */
export type { RevenueType } from '../domain/revenue.js';
export { REVENUE_TYPES } from '../domain/revenue.js';
/** Revenue types whose value is a fraction (micros of 1, at most 1000000) rather than a CPM. */
export const FRACTION_REVENUE_TYPES: readonly RevenueType[] = ['cost_plus_margin', 'revshare'];

/**
 * How a payment rule pays the publisher (Xandr's `pricing_type`):
 * - `revshare`: `revshareMicros` of the network's revenue.
 * - `cpm`: a flat `costCpmMicros` per 1000 impressions; with `applyCostOnDefault`, also when a
 *   default creative was served.
 * - `dynamic`: at least `revshareMicros`, at most `maxRevshareMicros` of revenue, aiming at
 *   `targetEcpmMicros`.
 */
export type PricingType = 'revshare' | 'cpm' | 'dynamic';
/** Every {@link PricingType}. */
export const PRICING_TYPES: readonly PricingType[] = ['revshare', 'cpm', 'dynamic'];
/** The priority of a payment rule created without one. */
export const DEFAULT_PAYMENT_RULE_PRIORITY = 5;

/** The two kinds of ad-ops tracker; their ids share one sequence, so a tracker id is unique in the account. */
export type { TrackerKind } from '../domain/tracker-hit.js';

/** Common to every stored catalog object. */
export interface CatalogRecord {
  id: number;
  accountId: number;
  createdMs: number;
  updatedMs: number;
}

/** The fields of an advertiser a client writes, on create and on update (which replaces every field). */
export interface AdvertiserInput {
  name: string;
}
/** A stored advertiser; its line items and trackers name it. */
export interface Advertiser extends CatalogRecord, AdvertiserInput {}

/** The fields of a line item a client writes, on create and on update (which replaces every field). */
export interface LineItemInput {
  /** Fixed at creation: a line item never changes advertiser. */
  advertiserId: number;
  name: string;
  revenueType: RevenueType;
  /** A CPM in micros, for `cpc` a price per click in micros, for fraction types a fraction in micros of 1; 0 for `none`. */
  revenueValueMicros: number;
  state: CatalogState;
}
/** A stored line item of one advertiser: how the impressions and clicks booked to it earn revenue. */
export interface LineItem extends CatalogRecord, LineItemInput {}

/** The fields of a publisher a client writes, on create and on update (which replaces every field). */
export interface PublisherInput {
  name: string;
  /** The OpenRTB `publisher.id` that exchange notices carry; unique in the account when set. */
  externalId: string | null;
}
/** A stored publisher; its placements, payment rules and trackers name it. */
export interface Publisher extends CatalogRecord, PublisherInput {}

/** The fields of a placement a client writes, on create and on update (which replaces every field). */
export interface PlacementInput {
  /** Fixed at creation. */
  publisherId: number;
  name: string;
}
/** A stored placement of one publisher, which its payment rules and trackers may name. */
export interface Placement extends CatalogRecord, PlacementInput {}

/** The fields of a payment rule a client writes, on create and on update (which replaces every field). */
export interface PaymentRuleInput {
  /** Fixed at creation. */
  publisherId: number;
  name: string;
  pricingType: PricingType;
  /** Revenue share (minimum share for `dynamic`), micros of 1; null unless revshare or dynamic. */
  revshareMicros: number | null;
  /** Flat CPM paid to the publisher; null unless `cpm`. */
  costCpmMicros: number | null;
  /** `cpm` only: pay even when a default creative was served. */
  applyCostOnDefault: boolean;
  /** `dynamic` only: the highest share, micros of 1. */
  maxRevshareMicros: number | null;
  /** `dynamic` only: the eCPM the rule aims at. */
  targetEcpmMicros: number | null;
  /**
   * 1–10, 10 highest; orders conditional rules. A base rule keeps the one it has (a new one
   * {@link DEFAULT_PAYMENT_RULE_PRIORITY}) for when another rule becomes the base.
   */
  priority: number;
  /**
   * Whether this is the publisher's base rule. On create, `undefined` makes the rule the base
   * when the publisher has none yet; `true` makes it the base and demotes the old one. On
   * update, `undefined` keeps it as it is, `true` promotes, and `false` on the base rule is
   * refused (a publisher always has exactly one base rule while it has rules).
   */
  isBase?: boolean;
  /**
   * A base rule is always `active` (it prices whatever its state); a base rule replaced by a
   * new base becomes an inactive conditional rule.
   */
  state: CatalogState;
  /** First UTC day the rule applies, `YYYY-MM-DD`; null: since ever. */
  startDate: string | null;
  /** Last UTC day the rule applies (inclusive), `YYYY-MM-DD`; null: indefinitely. */
  endDate: string | null;
  /** The rule applies only to impressions on these placements (of the same publisher); empty: all. */
  placementIds: number[];
}
/** A stored payment rule, `isBase` always set (see `PaymentRuleInput.isBase`). */
export interface PaymentRule extends CatalogRecord, Omit<PaymentRuleInput, 'isBase'> {
  isBase: boolean;
}

/** The fields of a tracker a client writes, on create and on update (which replaces every field). */
export interface TrackerInput {
  kind: TrackerKind;
  advertiserId: number;
  name: string;
  /** A custom code a hit may use instead of the id (`code=`); unique per account and kind. */
  code: string | null;
  /** Must be a line item of `advertiserId`. */
  lineItemId: number;
  publisherId: number;
  /** Must be a placement of `publisherId`. */
  placementId: number | null;
  /** Must be a payment rule of `publisherId`; overrides the publisher's rules for this tracker. */
  paymentRuleId: number | null;
  state: CatalogState;
  /** Click trackers: the landing page when a hit has no `redir`; always null for impression trackers. */
  clickUrl: string | null;
  /**
   * Who fires the tracker's hits. `browser` (the default): a tag on a web page, screened as a
   * browser's, so an app's or server's HTTP stack (okhttp, Dalvik, curl…) is a bot. `app`: a video
   * player's VAST `<Impression>` or, on the person's click, `<ClickTracking>`, an app's SDK (a
   * native ad's `link.clicktrackers` included), a CTV device or an SSAI server, whose HTTP stacks
   * are not taken for bots, as for exchange notices an app fires; every other screen stays.
   */
  firedBy: Notifier;
}
/** A stored impression or click tracker. */
export interface Tracker extends CatalogRecord, TrackerInput {}

/** Per-account: redirect targets (`redir`, `clickUrl`) a hit may send browsers to. */
export interface RedirectAllowlist {
  /** When false, any http(s) target is allowed. */
  enabled: boolean;
  /**
   * Lower-case host names; each allows itself and its subdomains (`example.com` allows
   * `www.example.com`). With `enabled` and no domains, every redirect is refused.
   */
  domains: string[];
}

/** What an advertiser list may be filtered by (see `ListQuery`); every field set must match. */
export interface AdvertiserFilter {
  id?: number;
  name?: string;
}
/** What a line item list may be filtered by (see `ListQuery`); every field set must match. */
export interface LineItemFilter {
  advertiserId?: number;
  state?: CatalogState;
  revenueType?: RevenueType;
  name?: string;
}
/** What a publisher list may be filtered by (see `ListQuery`); every field set must match. */
export interface PublisherFilter {
  id?: number;
  externalId?: string;
  name?: string;
}
/** What a placement list may be filtered by (see `ListQuery`); every field set must match. */
export interface PlacementFilter {
  publisherId?: number;
  name?: string;
}
/** What a payment rule list may be filtered by (see `ListQuery`); every field set must match. */
export interface PaymentRuleFilter {
  publisherId?: number;
  state?: CatalogState;
  pricingType?: PricingType;
  name?: string;
}
/** What a tracker list may be filtered by (see `ListQuery`); every field set must match. */
export interface TrackerFilter {
  kind?: TrackerKind;
  advertiserId?: number;
  lineItemId?: number;
  publisherId?: number;
  placementId?: number;
  paymentRuleId?: number;
  state?: CatalogState;
  code?: string;
  name?: string;
}

/** A page of a list: ids ascending, starting after `afterId`. `name` filters are case-insensitive substrings; every other filter is equality. */
export interface ListQuery<Filter> {
  filter: Filter;
  afterId?: number;
  limit: number;
}

/** A field whose value is wrong given what is stored (a missing or foreign reference). */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * What a write returned: the stored object, or why nothing was written.
 * `invalid`: references that do not exist in the account or do not belong together (the
 * messages never reveal whether a foreign object exists). `conflict`: a uniqueness rule
 * (tracker code, publisher external id) on `field`, with a message that names the field itself.
 */
export type WriteResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'invalid'; problems: FieldProblem[] }
  | { ok: false; reason: 'conflict'; field: string; message: string };

/** Objects that keep another from being deleted, e.g. `{noun: 'line item', nounPlural: 'line items', ids: [5, 6]}`. */
export interface Dependents {
  /** `line item`, `impression tracker`, `payment rule targeting it`, `API key scoped to it`, … */
  noun: string;
  nounPlural: string;
  ids: number[];
  /**
   * True when they can be moved off the object instead of deleted (a tracker to another line
   * item, publisher, placement or rule; a rule off a placement); false when they can only be
   * deleted or revoked (a line item never changes advertiser, a placement or rule publisher).
   */
  movable: boolean;
}

/** What a delete did; `in_use` lists the blocking dependents and says how to clear them (`fix`). */
export type DeleteResult =
  | { ok: true }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'in_use'; dependents: Dependents[]; fix: string };

/**
 * One kind of catalog object. Every method is one transaction; every successful write bumps
 * the catalog version in that same transaction.
 */
export interface EntityStore<T, Input, Filter> {
  /** Checks references (all in `accountId`) and inserts. */
  create(accountId: number, input: Input, nowMs: number): WriteResult<T>;
  /** `undefined` when there is no such object in the account. */
  get(accountId: number, id: number): T | undefined;
  list(accountId: number, query: ListQuery<Filter>): T[];
  /** Replaces every field with `input` (fields documented as fixed must be unchanged) after the same checks as `create`. */
  update(accountId: number, id: number, input: Input, nowMs: number): WriteResult<T>;
  /** Refuses while other objects (or live API keys scoped to it) depend on the object. */
  delete(accountId: number, id: number): DeleteResult;
}

/** Everything the hot path needs from the catalog, read in one consistent transaction. */
export interface CatalogData {
  /** The catalog version this data is at. */
  version: number;
  lineItems: LineItem[];
  paymentRules: PaymentRule[];
  trackers: Tracker[];
  /** The highest tracker id ever issued (see `CatalogView.highestTrackerId`); 0 before the first. */
  highestTrackerId: number;
  /** Only accounts that stored one; the others have the default (disabled, no domains). */
  redirectAllowlists: Map<number, RedirectAllowlist>;
}

/** The kinds of catalog object a write changes. */
export type CatalogObjectKind =
  'advertiser' | 'lineItem' | 'publisher' | 'placement' | 'paymentRule' | 'tracker' | 'redirectAllowlist';

/** One committed catalog write, as a `CatalogSource` listener hears of it. */
export interface CatalogChange {
  /** The catalog version the write produced. */
  version: number;
  /** The kind of object written. */
  kind: CatalogObjectKind;
  /** The object's id; for a redirect allow-list, its account's id. */
  id: number;
}

/**
 * What the in-memory snapshot is built from: all of it at once (`load`), or, to apply one change,
 * the few objects the change can have touched, read by id in any account.
 */
export interface CatalogSource {
  /** The catalog version: a counter bumped by every committed write, from any process. A cheap single-row read. */
  version(): number;
  /** Every object the snapshot holds, at one version. */
  load(): CatalogData;
  /** Calls `listener` after each write committed through this instance; returns the unsubscribe function. */
  subscribe(listener: (change: CatalogChange) => void): () => void;
  /** The tracker with this id, whatever its account; `undefined` when there is none. */
  trackerById(id: number): Tracker | undefined;
  /** The line item with this id, whatever its account; `undefined` when there is none. */
  lineItemById(id: number): LineItem | undefined;
  /** The payment rule with this id, whatever its account; `undefined` when there is none. */
  paymentRuleById(id: number): PaymentRule | undefined;
  /** Every payment rule of the publisher, by id. */
  paymentRulesOfPublisher(publisherId: number): PaymentRule[];
  /** The account's allow-list; disabled with no domains when never set. */
  redirectAllowlist(accountId: number): RedirectAllowlist;
}

/** The catalog's storage: one `EntityStore` per kind of object, account settings, and the snapshot source. */
export interface CatalogStore extends CatalogSource {
  advertisers: EntityStore<Advertiser, AdvertiserInput, AdvertiserFilter>;
  lineItems: EntityStore<LineItem, LineItemInput, LineItemFilter>;
  publishers: EntityStore<Publisher, PublisherInput, PublisherFilter>;
  placements: EntityStore<Placement, PlacementInput, PlacementFilter>;
  paymentRules: EntityStore<PaymentRule, PaymentRuleInput, PaymentRuleFilter>;
  /** Both kinds; `get` answers either kind, callers check `kind`. */
  trackers: EntityStore<Tracker, TrackerInput, TrackerFilter>;
  setRedirectAllowlist(accountId: number, allowlist: RedirectAllowlist, nowMs: number): RedirectAllowlist;
}

/** A line item as the hot path sees it. */
export interface LineItemView {
  readonly id: number;
  readonly advertiserId: number;
  readonly revenueType: RevenueType;
  /** A CPM in micros, a price per click in micros for `cpc`, or a fraction in micros of 1 for `cost_plus_margin` and `revshare`; see `RevenueType`. */
  readonly revenueValueMicros: number;
  readonly state: CatalogState;
}

/**
 * A payment rule as the hot path sees it (the shape `domain/payment-rules.ts` prices with).
 * Amounts a pricing type does not use are 0.
 */
export interface PaymentRuleView {
  readonly id: number;
  readonly publisherId: number;
  readonly name: string;
  readonly pricingType: PricingType;
  /** Micros of 1 (revshare; dynamic: the minimum share); 0 for cpm. */
  readonly revshareMicros: number;
  /** `cpm`: paid per 1000 impressions, micros; 0 otherwise. */
  readonly costCpmMicros: number;
  readonly applyCostOnDefault: boolean;
  /** `dynamic`: the highest share, micros of 1; 0 otherwise. */
  readonly maxRevshareMicros: number;
  /** `dynamic`: the eCPM aimed at, micros; 0 otherwise. */
  readonly targetEcpmMicros: number;
  /** 1–10, 10 highest. */
  readonly priority: number;
  /** The base rule applies when no conditional rule does; its state, priority, dates and placements are ignored. */
  readonly isBase: boolean;
  readonly state: CatalogState;
  /** Start of `startDate` (UTC) in epoch ms; null: no start. */
  readonly startMs: number | null;
  /** End of `endDate` (UTC, exclusive: the next midnight) in epoch ms; null: no end. */
  readonly endMs: number | null;
  /** Placement conditions; empty: every placement. */
  readonly placementIds: readonly number[];
}

/** An impression or click tracker as the hot path sees it, with everything a hit needs. */
export interface TrackerView {
  readonly id: number;
  readonly kind: TrackerKind;
  readonly accountId: number;
  readonly code: string | null;
  /** An inactive tracker's hits are recorded but never count (`inactive_tracker`). */
  readonly state: CatalogState;
  readonly advertiserId: number;
  /** Its line item, state included: an inactive line item's trackers' hits never count (`inactive_line_item`). */
  readonly lineItem: LineItemView;
  readonly publisherId: number;
  readonly placementId: number | null;
  /**
   * The rule set on the tracker, whatever its state and dates. It applies instead of the
   * publisher's rules (`CatalogView.paymentRules(publisherId)`) while it is in effect (the base
   * rule; a conditional rule active and within its dates: `ruleInEffect` in
   * `domain/payment-rules.ts`); otherwise the publisher's rules apply.
   */
  readonly paymentRule: PaymentRuleView | null;
  /** Click trackers: the landing page used when a hit has no `redir`. */
  readonly clickUrl: string | null;
  /** Who fires its hits, the notifier they are screened as (see `TrackerInput.firedBy`). */
  readonly firedBy: Notifier;
}

/**
 * A read-only, internally consistent view of the catalog at one version, for the hot path.
 * Lookups are in-memory map reads; the objects returned are frozen.
 */
export interface CatalogView {
  readonly version: number;
  /**
   * The highest tracker id the catalog has ever issued, to any account, 0 before the first. Tracker
   * ids, of both kinds, are numbered in one sequence across accounts and never reused, so every id
   * from 1 to it was issued to a tracker, deleted since or not, and no higher one was: a hit naming
   * no tracker records the id it named only up to it, so that ids no one was given (a scanner's)
   * add no report rows.
   */
  readonly highestTrackerId: number;
  /**
   * A tracker by id, or by custom code. Codes are unique per account and kind but may repeat
   * across accounts, so a code is looked up in one account: `accountId` (a hit's `member=`),
   * else the operator's account — so that no other account can make an operator's code
   * ambiguous by reusing it. Inactive trackers are returned (check `state`).
   */
  findTracker(
    kind: TrackerKind,
    by: { id: number } | { code: string; accountId?: number },
  ): TrackerView | undefined;
  /** The account's redirect allow-list (see `RedirectAllowlist`); disabled with no domains when never set. */
  redirectAllowlist(accountId: number): { readonly enabled: boolean; readonly domains: readonly string[] };
  /**
   * The publisher's payment rules in evaluation order: active conditional rules first, by
   * priority (10 first), ties by id (oldest first: deterministic where Xandr picks at
   * random), then the base rule last. Inactive conditional rules are left out. The first
   * rule whose conditions all match the impression (date window, placements) applies; the
   * base rule always matches. Empty when the publisher has no rules (cost 0).
   */
  paymentRules(publisherId: number): readonly PaymentRuleView[];
}
