/**
 * Revenue (what the advertiser pays the network, set on the line item) and its resolution
 * together with media cost (what the network pays the publisher, from `ancost` or a payment
 * rule) for one event. Pure; all money is integer micros of the account currency.
 */
import type { PaymentRule } from './payment-rules.js';
import {
  applyFractionMicros,
  cpmToEventMicros,
  divideRoundHalfUp,
  dynamicTerms,
  mediaCostMicros,
} from './payment-rules.js';

/**
 * A line item's revenue type, after Xandr's advertiser-side revenue types (Network Analytics:
 * No Payment, Flat CPM, Cost plus CPM, Cost plus margin, CPC, Revshare).
 */
export type RevenueType = 'none' | 'cpm' | 'cost_plus_cpm' | 'cost_plus_margin' | 'cpc' | 'revshare';

/** All revenue types, for validation. */
export const REVENUE_TYPES: readonly RevenueType[] = [
  'none',
  'cpm',
  'cost_plus_cpm',
  'cost_plus_margin',
  'cpc',
  'revshare',
];

/** What a line item says about revenue. */
export interface LineItemRevenue {
  revenueType: RevenueType;
  /** CPM in currency micros for `cpm` / `cost_plus_cpm`; a price per click in currency micros for `cpc`; a fraction in micros (0.2 → 200000) for `cost_plus_margin` / `revshare`; ignored for `none`. */
  revenueValueMicros: number;
}

/** One event's money. */
export interface CostAndRevenue {
  mediaCostMicros: number;
  revenueMicros: number;
}

const MICROS_PER_UNIT = 1_000_000n;

/**
 * The revenue of one event, in currency micros:
 * - `none`: 0.
 * - `cpm`: `value / 1000` (value is the CPM).
 * - `cpc`: 0 — value is the price of a click, which {@link clickCostAndRevenue} books; an
 *   impression earns nothing. Xandr lists CPC among the advertiser-side revenue types, and `cpc`
 *   among its click-tracker feed's pricing types (reference/standards.md §2.2, §2.4).
 * - `cost_plus_cpm`: `cost + value / 1000` (media cost plus a CPM mark-up).
 * - `cost_plus_margin`: `cost × (1 + value)` (value is the margin fraction, 0.2 → 200000).
 * - `revshare`: `cost × value` — the network's revenue as a share of media cost (value is the
 *   fraction, 0 to 1 as the API takes it: 0.25 → 250000 bills the advertiser 25 % of cost; a
 *   mark-up above cost is `cost_plus_margin`). Xandr lists "Revshare" among
 *   the advertiser-side revenue types of Network Analytics without a formula
 *   (reference/standards.md §2.4); Tally defines it against media cost, the only amount a
 *   tracker event has besides the line item's own value.
 *
 * Each product or division is rounded half up to the micro (exact BigInt arithmetic). Throws a
 * `RangeError` for amounts that are not non-negative safe integers.
 */
export function revenueMicros(type: RevenueType, valueMicros: number, mediaCostMicros: number): number {
  if (type === 'none' || type === 'cpc') return 0;
  const line = linearRevenue(type, valueMicros);
  if (line === undefined) return cpmToEventMicros(valueMicros);
  const revenue = applyFractionMicros(mediaCostMicros, line.slopeMicros) + line.interceptMicros;
  if (!Number.isSafeInteger(revenue)) throw new RangeError(`${revenue} micros is beyond a safe integer`);
  return revenue;
}

/**
 * Cost-dependent revenue as `revenue = cost × slope + intercept` (slope a fraction in micros),
 * or `undefined` for the types that do not depend on cost (`none`, `cpm`, `cpc`).
 */
function linearRevenue(
  type: RevenueType,
  valueMicros: number,
): { slopeMicros: number; interceptMicros: number } | undefined {
  switch (type) {
    case 'none':
    case 'cpm':
    case 'cpc':
      return undefined;
    case 'cost_plus_cpm':
      return { slopeMicros: 1_000_000, interceptMicros: cpmToEventMicros(valueMicros) };
    case 'cost_plus_margin':
      return { slopeMicros: 1_000_000 + valueMicros, interceptMicros: 0 };
    case 'revshare':
      return { slopeMicros: valueMicros, interceptMicros: 0 };
  }
}

/**
 * Media cost and revenue of one tracker event, resolved without cycles (cost may depend on
 * revenue through a revshare/dynamic payment rule, revenue on cost through a cost-based line
 * item):
 *
 * 1. `ancostMicros` given: it is the cost and overrides any payment rule (the Xandr seed:
 *    "This will override any payment rules"); revenue follows from it.
 * 2. Revenue `none` / `cpm` / `cpc` (independent of cost): revenue first, then the rule's cost
 *    from it.
 * 3. No rule: cost 0, revenue from a cost of 0.
 * 4. A `cpm` rule (independent of revenue): cost first, then revenue from it.
 * 5. Cost-based revenue with a `revshare` or `dynamic` rule — circular. Tally takes the
 *    amounts where both agreements hold at once (the fixed point of `cost = rule(revenue)`,
 *    `revenue = lineItem(cost)`), rounded to the micro:
 *    - `revshare` rule r with `revenue = cost × a + b`: `cost = r·b / (1 − r·a)`. E.g. a 50 %
 *      revshare with cost-plus 2.00 CPM pays the publisher 2.00 CPM and bills 4.00 CPM. With
 *      `cost_plus_margin` or `revshare` revenue (b = 0) the only such point is 0: cost 0,
 *      revenue 0.
 *    - `dynamic` rule: the target eCPM is paid when it lies within [min share, max share] of
 *      the revenue it produces; otherwise the binding share is solved as for `revshare`.
 *    - When no finite point exists (the publisher's share of a revenue that grows with cost is
 *      100 % or more, e.g. a 100 % revshare on cost-plus CPM), cost is 0 and revenue is what a
 *      cost of 0 gives — a configuration the control plane should refuse.
 */
export function costAndRevenue(
  lineItem: LineItemRevenue,
  rule: PaymentRule | undefined,
  ancostMicros: number | undefined,
): CostAndRevenue {
  const { revenueType: type, revenueValueMicros: value } = lineItem;
  const line = linearRevenue(type, value);
  if (line === undefined) return costOfFixedRevenue(revenueMicros(type, value, 0), rule, ancostMicros);
  let cost: number;
  if (ancostMicros !== undefined) {
    cost = ancostMicros;
  } else if (rule === undefined) {
    cost = 0;
  } else if (rule.pricingType === 'cpm') {
    cost = mediaCostMicros(rule, 0);
  } else if (rule.pricingType === 'revshare') {
    cost = fixedPointCost(rule.revshareMicros, line.slopeMicros, line.interceptMicros) ?? 0;
  } else {
    cost = dynamicFixedPointCost(rule, type, value, line.slopeMicros, line.interceptMicros);
  }
  return { mediaCostMicros: cost, revenueMicros: revenueMicros(type, value, cost) };
}

/**
 * Media cost and revenue of one click-tracker hit. A click is not an impression: what is priced
 * per thousand impressions (a `cpm` line item's CPM, a `cost_plus_cpm` mark-up, a `cpm` rule's
 * cost, a `dynamic` rule's target eCPM) is 0 for it, while what is a share of cost applies to the
 * click's own cost, `ancost` (Xandr's "cost of the external click"). A `cpc` line item earns its
 * value on a click, whatever the cost; the cost is then `ancost` when given, else the rule's
 * (a share of that revenue, as for an impression of a `cpm` line item). Otherwise, without
 * `ancost` a click costs and earns nothing; with it, as {@link costAndRevenue}.
 */
export function clickCostAndRevenue(
  lineItem: LineItemRevenue,
  rule: PaymentRule | undefined,
  ancostMicros: number | undefined,
): CostAndRevenue {
  const clickRule = rule === undefined ? undefined : { ...rule, costCpmMicros: 0, targetEcpmMicros: 0 };
  if (lineItem.revenueType === 'cpc') {
    return costOfFixedRevenue(lineItem.revenueValueMicros, clickRule, ancostMicros);
  }
  const perThousand = lineItem.revenueType === 'cpm' || lineItem.revenueType === 'cost_plus_cpm';
  return costAndRevenue(
    { ...lineItem, revenueValueMicros: perThousand ? 0 : lineItem.revenueValueMicros },
    clickRule,
    ancostMicros,
  );
}

/**
 * An event's amounts when its revenue does not depend on cost: that revenue, and as cost
 * `ancostMicros` when given, else what the rule pays of the revenue (0 without a rule).
 */
function costOfFixedRevenue(
  revenue: number,
  rule: PaymentRule | undefined,
  ancostMicros: number | undefined,
): CostAndRevenue {
  const cost = ancostMicros ?? (rule === undefined ? 0 : mediaCostMicros(rule, revenue));
  return { mediaCostMicros: cost, revenueMicros: revenue };
}

/**
 * The cost c with `c = share × (c × slope + intercept)`: `share·intercept / (1 − share·slope)`
 * (fractions in micros), rounded half up; `undefined` when `share·slope >= 1` and the intercept
 * is positive (no finite solution). 0 when the intercept is 0.
 */
function fixedPointCost(
  shareMicros: number,
  slopeMicros: number,
  interceptMicros: number,
): number | undefined {
  if (interceptMicros === 0) return 0;
  const denominator = MICROS_PER_UNIT * MICROS_PER_UNIT - BigInt(shareMicros) * BigInt(slopeMicros);
  if (denominator <= 0n) return undefined;
  return divideRoundHalfUp(BigInt(shareMicros) * BigInt(interceptMicros) * MICROS_PER_UNIT, denominator);
}

/**
 * The fixed point for a `dynamic` rule: the target when it pays a share of the revenue it
 * produces within [min, max]; else the cap (max share) or the floor (min share) binds and is
 * solved as a revshare. The pieces are exact: when the cap binds at the target, `max·slope < 1`
 * and the solution lies below the target; when the floor binds, the solution lies above it.
 */
function dynamicFixedPointCost(
  rule: PaymentRule,
  type: RevenueType,
  value: number,
  slopeMicros: number,
  interceptMicros: number,
): number {
  const terms = dynamicTerms(rule);
  const revenueAtTarget = revenueMicros(type, value, terms.targetMicros);
  if (terms.targetMicros > applyFractionMicros(revenueAtTarget, terms.maxShareMicros)) {
    return fixedPointCost(terms.maxShareMicros, slopeMicros, interceptMicros) ?? 0;
  }
  if (terms.targetMicros < applyFractionMicros(revenueAtTarget, terms.minShareMicros)) {
    return fixedPointCost(terms.minShareMicros, slopeMicros, interceptMicros) ?? 0;
  }
  return terms.targetMicros;
}
