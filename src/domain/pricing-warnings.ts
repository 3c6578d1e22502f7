/**
 * Warnings about a tracker whose hits would be booked with a media cost of 0 by the way its line
 * item and payment rules are set up, though nothing in them says the publisher is paid nothing:
 * ad ops set the terms, and without a warning the zeros surface only in a report. Pure; amounts
 * are integer micros.
 */
import type { PaymentRule } from './payment-rules.js';
import { dynamicTerms, ruleInEffect } from './payment-rules.js';
import type { CostAndRevenue, LineItemRevenue } from './revenue.js';
import { clickCostAndRevenue, costAndRevenue } from './revenue.js';

/**
 * Why a tracker's hits would cost nothing: `no_payment_rule`, or `zero_media_cost` from a rule; or
 * why they are not priced as the tracker says: `own_rule_not_in_effect`.
 */
export const PRICING_WARNING_CODES = [
  'no_payment_rule',
  'zero_media_cost',
  'own_rule_not_in_effect',
] as const;
type PricingWarningCode = (typeof PRICING_WARNING_CODES)[number];

/** One warning, its message saying what the hits would be booked at and what to change. */
export interface PricingWarning {
  code: PricingWarningCode;
  message: string;
}

/**
 * How a warning names a payment rule: `id_and_name` (`payment rule 3 (Base)`), as a tracker's
 * answers do, or `id_only` (`payment rule 3`), as a tag export's do, which may be sent on to the
 * publisher and names every object by its id alone.
 */
export type RuleNaming = 'id_and_name' | 'id_only';

/** A tracker's pricing terms, as the catalog snapshot holds them. */
export interface TrackerPricing {
  publisherId: number;
  placementId: number | null;
  lineItem: LineItemRevenue & { id: number };
  /** The rule named on the tracker itself, if any. */
  ownRule: PaymentRule | null;
  /** The publisher's rules in evaluation order (active conditional rules, then the base rule). */
  publisherRules: readonly PaymentRule[];
}

/**
 * The warnings for an impression tracker's hits that carry no `ancost` (with one, the hit's cost is
 * the `ancost`, whatever the rules), from now on (`nowMs`), naming rules as `naming` says: none when
 * every rule that may price them books a cost, or is one that pays nothing by its own terms (a
 * share or CPM of 0).
 *
 * - `no_payment_rule`: no rule may price them (the publisher has none, and the tracker names none
 *   in effect): every such hit costs 0.
 * - `zero_media_cost`, once per rule that may price them and books a cost of 0: a share of a
 *   revenue of 0 (a `none` line item, a `cpc` line item, which earns on clicks only, a CPM
 *   rounding to 0 micros an impression), a share of a revenue computed from the cost (no cost but
 *   0 satisfies both agreements: see `costAndRevenue`), or a CPM below half a micro an impression.
 */
export function impressionPricingWarnings(
  tracker: TrackerPricing,
  nowMs: number,
  naming: RuleNaming = 'id_and_name',
): PricingWarning[] {
  const own = ownRuleWarnings(tracker, nowMs, naming);
  const rules = rulesThatMayPrice(tracker, nowMs);
  if (rules.length === 0) return [...own, noPaymentRule(tracker.publisherId, "this tracker's hits", '')];
  return [
    ...own,
    ...zeroMediaCostWarnings(
      rules.filter((rule) => !paysNothingByItsTerms(rule)),
      'hits',
      naming,
      (rule) => costAndRevenue(tracker.lineItem, rule, undefined),
      (rule) => whyZero(rule, tracker.lineItem),
    ),
  ];
}

/**
 * The warnings for a click tracker's clicks that carry no `ancost`, from now on (`nowMs`), as
 * {@link impressionPricingWarnings} gives an impression tracker's, for the way a click is priced
 * (`clickCostAndRevenue`). Only a `cpc` line item's clicks are priced by the payment rules (a
 * share of its price per click): with any other line item a click costs its `ancost` alone, by
 * design, whatever the rules, and none is warned of.
 *
 * - `no_payment_rule`: no rule may price them: every such click costs 0.
 * - `zero_media_cost`, once per `revshare` or `dynamic` rule that may price them and books a cost
 *   of 0: a share of a price per click of 0, a share of it that rounds to 0, or a `dynamic`
 *   rule's minimum share of 0 (its target eCPM is per impression: a click is paid its minimum
 *   share). None for a `cpm` rule: its terms pay per impression, and a click is not one (a `cpc`
 *   line item's publisher under a `cpm` rule is paid on its impressions), nor for a rule that pays
 *   nothing by its own terms.
 */
export function clickPricingWarnings(
  tracker: TrackerPricing,
  nowMs: number,
  naming: RuleNaming = 'id_and_name',
): PricingWarning[] {
  if (tracker.lineItem.revenueType !== 'cpc') return [];
  const own = ownRuleWarnings(tracker, nowMs, naming);
  const rules = rulesThatMayPrice(tracker, nowMs);
  if (rules.length === 0) {
    return [
      ...own,
      noPaymentRule(
        tracker.publisherId,
        "this tracker's clicks",
        ', a revshare or dynamic one: a cpm rule pays impressions only',
      ),
    ];
  }
  return [
    ...own,
    ...zeroMediaCostWarnings(
      rules.filter((rule) => rule.pricingType !== 'cpm' && !paysNothingByItsTerms(rule)),
      'clicks',
      naming,
      (rule) => clickCostAndRevenue(tracker.lineItem, rule, undefined),
      (rule) => whyClickZero(rule, tracker.lineItem),
    ),
  ];
}

/**
 * One `zero_media_cost` warning for each of `rules` whose `price` of an event without `ancost`
 * books a media cost of 0, its message naming the `events` (`hits`, `clicks`) and the rule (as
 * `naming` says) and saying `why`.
 */
function zeroMediaCostWarnings(
  rules: readonly PaymentRule[],
  events: string,
  naming: RuleNaming,
  price: (rule: PaymentRule) => CostAndRevenue,
  why: (rule: PaymentRule) => string,
): PricingWarning[] {
  const warnings: PricingWarning[] = [];
  for (const rule of rules) {
    const money = price(rule);
    if (money.mediaCostMicros !== 0) continue;
    const revenue = money.revenueMicros === 0 ? ' and a revenue of 0' : '';
    warnings.push({
      code: 'zero_media_cost',
      message: `${events} without ancost that ${ruleNamed(rule, naming)} prices are booked with a media cost of 0${revenue}: ${why(rule)}`,
    });
  }
  return warnings;
}

/** A rule as `naming` names it: `payment rule 3 (Base)` or `payment rule 3`. */
function ruleNamed(rule: PaymentRule, naming: RuleNaming): string {
  return naming === 'id_and_name' ? `payment rule ${rule.id} (${rule.name})` : `payment rule ${rule.id}`;
}

/**
 * The `own_rule_not_in_effect` warning for a tracker whose own rule (`paymentRuleId`) prices none
 * of its hits from `nowMs` on, being inactive or past its end date: the publisher's rules price
 * them instead, which nothing else in the tracker's answers says.
 */
function ownRuleWarnings(tracker: TrackerPricing, nowMs: number, naming: RuleNaming): PricingWarning[] {
  const own = tracker.ownRule;
  if (own === null || mayApplyFrom(own, nowMs)) return [];
  const inactive = own.state === 'inactive';
  // Active and out of effect, it has ended; inactive, it may have ended as well, when activating
  // it alone would not put it back. An end date is a UTC day, through its 24:00: `endMs` is the
  // next day's start.
  const hasEnded = own.endMs !== null && own.endMs <= nowMs;
  const ended = `ended with ${new Date((own.endMs ?? nowMs) - 1).toISOString().slice(0, 10)}`;
  const why = !inactive ? ended : hasEnded ? `is inactive and ${ended}` : 'is inactive';
  const patch = `PATCH /v1/payment-rules/${own.id}`;
  const change = !inactive
    ? `move its endDate (${patch} {"endDate": …})`
    : !hasEnded
      ? `activate the rule (${patch} {"state": "active"})`
      : `activate the rule and move its endDate (${patch} {"state": "active", "endDate": …})`;
  return [
    {
      code: 'own_rule_not_in_effect',
      message: `${ruleNamed(own, naming)}, this tracker's own (paymentRuleId), ${why}: the publisher's rules price its hits instead; ${change}, or name another`,
    },
  ];
}

/** The `no_payment_rule` warning for `hits` of a tracker of publisher `publisherId`. */
function noPaymentRule(publisherId: number, hits: string, ruleHint: string): PricingWarning {
  return {
    code: 'no_payment_rule',
    message: `publisher ${publisherId} has no payment rule, so ${hits} are booked with a media cost of 0 unless they carry ancost: add the publisher's base rule (POST /v1/payment-rules with publisherId ${publisherId})${ruleHint}`,
  };
}

/**
 * The rules that may price the tracker's hits from `nowMs` on, in the order they are tried: its
 * own rule alone while that is the base rule; otherwise its own rule (unless it can never be in
 * effect again), then the publisher's rules that can still match its placement, down to the
 * first that is in effect for good (in effect now, with no end), which every later one is behind.
 */
function rulesThatMayPrice(tracker: TrackerPricing, nowMs: number): PaymentRule[] {
  const own = tracker.ownRule;
  if (own?.isBase === true) return [own];
  const rules: PaymentRule[] = [];
  const candidates = [
    ...(own === null ? [] : [own]),
    ...tracker.publisherRules.filter((rule) => rule.id !== own?.id),
  ];
  for (const rule of candidates) {
    const mayPrice =
      rule.isBase ||
      (mayApplyFrom(rule, nowMs) && (rule === own || matchesPlacement(rule, tracker.placementId)));
    if (!mayPrice) continue;
    rules.push(rule);
    if (rule.isBase || (rule.endMs === null && ruleInEffect(rule, nowMs))) break;
  }
  return rules;
}

/** True for a conditional rule that is active and whose dates have not ended by `nowMs`. */
function mayApplyFrom(rule: PaymentRule, nowMs: number): boolean {
  return ruleInEffect(rule, rule.startMs === null ? nowMs : Math.max(nowMs, rule.startMs));
}

function matchesPlacement(rule: PaymentRule, placementId: number | null): boolean {
  return rule.placementIds.length === 0 || (placementId !== null && rule.placementIds.includes(placementId));
}

/** A share or CPM of 0: a rule that pays the publisher nothing, as its terms say. */
function paysNothingByItsTerms(rule: PaymentRule): boolean {
  switch (rule.pricingType) {
    case 'cpm':
      return rule.costCpmMicros === 0;
    case 'revshare':
      return rule.revshareMicros === 0;
    case 'dynamic': {
      const terms = dynamicTerms(rule);
      return terms.maxShareMicros === 0 || (terms.minShareMicros === 0 && terms.targetMicros === 0);
    }
  }
}

/** Why `rule` books a cost of 0 with this line item's revenue, and what to change. */
function whyZero(rule: PaymentRule, lineItem: LineItemRevenue & { id: number }): string {
  if (rule.pricingType === 'cpm') {
    return `its CPM is less than half a micro an impression; raise it`;
  }
  const item = `line item ${lineItem.id}`;
  const cpmRule =
    "make the publisher's base rule a cpm rule (it prices every tracker of the publisher no other rule prices), or name on this tracker a cpm rule of its own whose placements no other tracker is on (a rule without placements prices the publisher's other trackers too)";
  switch (lineItem.revenueType) {
    case 'none':
      return `it pays a share of the revenue, and ${item} books none (revenueType none): give the line item a revenue, or ${cpmRule}`;
    case 'cpc':
      return lineItem.revenueValueMicros === 0
        ? `it pays a share of the revenue, and ${item} books none: its price per click is 0, and it earns nothing on an impression (revenueType cpc): give the line item a price per click, or ${cpmRule}`
        : `it pays a share of the revenue, and ${item} earns on clicks only (revenueType cpc), nothing on an impression, so a share of its revenue is paid on its click-tracker hits alone: to pay for impressions too, ${cpmRule}, or send each hit's cost as ancost`;
    case 'cpm': {
      const revenueMicros = costAndRevenue(lineItem, rule, undefined).revenueMicros;
      return revenueMicros === 0
        ? `it pays a share of the revenue, and ${item}'s CPM comes to less than half a micro an impression: raise the CPM, or ${cpmRule}`
        : // Not the revenue itself: a tracker's warnings are shown to its publisher's keys too.
          `it pays a share of ${item}'s revenue an impression, which comes to less than half a micro: raise the share or the CPM, or ${cpmRule}`;
    }
    default:
      return `it pays a share of the revenue, and ${item}'s ${lineItem.revenueType} revenue is computed from the cost, and no cost but 0 satisfies both agreements at once: ${cpmRule}, give the line item a revenue that does not depend on cost (cpm), or send each hit's cost as ancost`;
  }
}

/**
 * Why a `revshare` or `dynamic` `rule` books a click of this `cpc` line item at a cost of 0, and
 * what to change. Not the price per click itself: a tracker's warnings are shown to its
 * publisher's keys too.
 */
function whyClickZero(rule: PaymentRule, lineItem: LineItemRevenue & { id: number }): string {
  const item = `line item ${lineItem.id}`;
  const ancost = "or send each click's cost as ancost";
  if (lineItem.revenueValueMicros === 0) {
    return `it pays a share of the revenue, and ${item} books none: its price per click is 0 (revenueType cpc): give the line item a price per click, ${ancost}`;
  }
  if (rule.pricingType === 'dynamic') {
    const minimum = dynamicTerms(rule).minShareMicros;
    return minimum === 0
      ? `a click is not an impression, so its target eCPM does not apply: it pays a click its minimum share (revshare) of ${item}'s price per click, and that share is 0: raise the rule's revshare, ${ancost}`
      : `a click is not an impression, so its target eCPM does not apply: it pays a click its minimum share (revshare) of ${item}'s price per click, which comes to less than half a micro: raise the rule's revshare or the price per click, ${ancost}`;
  }
  return `it pays a share of ${item}'s price per click, which comes to less than half a micro: raise the share or the price per click, ${ancost}`;
}
