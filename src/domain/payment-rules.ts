/**
 * Payment rules: the financial agreement between the network and a publisher, as Xandr
 * (Microsoft Monetize) defines them — one base rule per publisher plus optional conditional
 * rules with a priority, a state, a date window and conditions (here: placements). Pure; all
 * money is integer micros of the account currency.
 */

/** A publisher's payment rule, as the catalog snapshot holds it. */
export interface PaymentRule {
  id: number;
  name: string;
  /** The publisher's fallback rule; it has no conditions, priority or dates of its own. */
  isBase: boolean;
  state: 'active' | 'inactive';
  /** 1–10, 10 highest. */
  priority: number;
  /** Inclusive start, epoch ms; `null` = since always. */
  startMs: number | null;
  /** Exclusive end, epoch ms; `null` = runs indefinitely. */
  endMs: number | null;
  /** The rule applies only to these placements; empty = any placement (and hits without one). */
  placementIds: readonly number[];
  pricingType: 'revshare' | 'cpm' | 'dynamic';
  /** Share of the network's revenue paid to the publisher, as a fraction in micros (0.3 → 300000); the minimum share for `dynamic`. */
  revshareMicros: number;
  /** Flat CPM paid to the publisher, in currency micros. */
  costCpmMicros: number;
  /** Xandr's "pay even when a default creative is served" (`apply_cost_on_default`), CPM rules only. */
  applyCostOnDefault: boolean;
  /** `dynamic` only: the highest share of revenue the publisher may be paid, fraction in micros. */
  maxRevshareMicros: number;
  /** `dynamic` only: the eCPM the publisher should be paid when the revenue allows, currency micros. */
  targetEcpmMicros: number;
}

/** What a rule's conditions are evaluated against. */
interface PaymentRuleContext {
  /** The tracker's placement, if it has one. */
  placementId: number | null;
  /** When the event happened, epoch ms. */
  nowMs: number;
}

const MICROS_PER_UNIT = 1_000_000n;
const IMPRESSIONS_PER_MILLE = 1000n;

/**
 * The one rule that prices an event, following Xandr's evaluation ("Base and conditional
 * rules"): the highest-priority conditional rule that is active and whose every condition
 * matches (`startMs <= nowMs < endMs`, and the placement is listed when `placementIds` is not
 * empty — an event without a placement matches only rules without placement conditions) wins;
 * when none matches, the base rule applies. Only one rule applies per event.
 *
 * Deviations from Xandr, both for determinism:
 * - Xandr breaks ties between matching rules of equal priority at random; here the rule with
 *   the lowest id (the older rule) wins, so the same event always gets the same cost.
 * - Xandr's base rule always applies and cannot be switched off or scheduled; here too the base
 *   rule is the fallback whatever its `state`, dates or placements. If several rules are marked
 *   base (the control plane should prevent it), the lowest id is the base rule.
 *
 * `undefined` only when nothing matches and the list has no base rule.
 */
export function selectPaymentRule(
  rules: readonly PaymentRule[],
  context: PaymentRuleContext,
): PaymentRule | undefined {
  let best: PaymentRule | undefined;
  let base: PaymentRule | undefined;
  for (const rule of rules) {
    if (rule.isBase) {
      if (base === undefined || rule.id < base.id) base = rule;
    } else if (conditionsMatch(rule, context) && (best === undefined || outranks(rule, best))) {
      best = rule;
    }
  }
  return best ?? base;
}

/**
 * Whether a rule set on a tracker of its own prices the tracker's hits at `nowMs`: the base rule
 * always (it is the fallback whatever its state or dates, as {@link selectPaymentRule} applies
 * it); a conditional rule while it is active and within its dates (`startMs <= nowMs < endMs`),
 * as {@link selectPaymentRule} reads them. Its placements are not looked at: the tracker names the
 * rule itself. Otherwise the publisher's rules apply (a base rule replaced by a new base is an
 * inactive conditional rule, and prices nothing until made active again).
 */
export function ruleInEffect(rule: PaymentRule, nowMs: number): boolean {
  return rule.isBase || activeWithinDates(rule, nowMs);
}

function activeWithinDates(rule: PaymentRule, nowMs: number): boolean {
  if (rule.state !== 'active') return false;
  if (rule.startMs !== null && nowMs < rule.startMs) return false;
  return rule.endMs === null || nowMs < rule.endMs;
}

function conditionsMatch(rule: PaymentRule, context: PaymentRuleContext): boolean {
  if (!activeWithinDates(rule, context.nowMs)) return false;
  if (rule.placementIds.length === 0) return true;
  return context.placementId !== null && rule.placementIds.includes(context.placementId);
}

function outranks(rule: PaymentRule, other: PaymentRule): boolean {
  return rule.priority > other.priority || (rule.priority === other.priority && rule.id < other.id);
}

/**
 * The media cost of one event (what the network owes the publisher), in currency micros:
 * - `revshare`: `revenueMicros × revshare`.
 * - `cpm`: `costCpm / 1000`, whatever the revenue. For a default creative (`isDefault`) only
 *   when `applyCostOnDefault` is set, else 0. Tracker hits are never default creatives (the
 *   tracker fires on the third-party creative itself), so callers for hits leave `isDefault`
 *   false.
 * - `dynamic`: `revenueMicros × revshare`, raised to the target eCPM (`targetEcpm / 1000`) when
 *   the revenue allows it, and never more than `revenueMicros × maxRevshare` — i.e. the target
 *   clamped to the band [min share, max share] of the revenue. See {@link dynamicTerms}.
 *
 * Exact integer arithmetic (BigInt), each product or division rounded half up to the micro.
 * Throws a `RangeError` for amounts that are not non-negative safe integers.
 */
export function mediaCostMicros(rule: PaymentRule, revenueMicros: number, isDefault = false): number {
  requireMicros('revenueMicros', revenueMicros);
  switch (rule.pricingType) {
    case 'revshare':
      return applyFractionMicros(revenueMicros, rule.revshareMicros);
    case 'cpm':
      return isDefault && !rule.applyCostOnDefault ? 0 : cpmToEventMicros(rule.costCpmMicros);
    case 'dynamic': {
      const terms = dynamicTerms(rule);
      const floorMicros = applyFractionMicros(revenueMicros, terms.minShareMicros);
      const capMicros = applyFractionMicros(revenueMicros, terms.maxShareMicros);
      return Math.min(capMicros, Math.max(floorMicros, terms.targetMicros));
    }
  }
}

/** The three numbers a `dynamic` rule pays by, normalised. */
interface DynamicTerms {
  /** Lowest share of revenue paid; a configured minimum above the maximum is taken as the maximum. */
  minShareMicros: number;
  /** Highest share of revenue paid (the cap always wins). */
  maxShareMicros: number;
  /** The per-event target: `targetEcpm / 1000`, rounded half up. */
  targetMicros: number;
}

/** The normalised terms of a `dynamic` rule (used by {@link mediaCostMicros} and the cost/revenue resolution). */
export function dynamicTerms(rule: PaymentRule): DynamicTerms {
  requireMicros('maxRevshareMicros', rule.maxRevshareMicros);
  requireMicros('revshareMicros', rule.revshareMicros);
  return {
    minShareMicros: Math.min(rule.revshareMicros, rule.maxRevshareMicros),
    maxShareMicros: rule.maxRevshareMicros,
    targetMicros: cpmToEventMicros(rule.targetEcpmMicros),
  };
}

/**
 * `amountMicros × fractionMicros / 1e6` — an amount times a fraction held in micros (0.3 →
 * 300000, 1.2 → 1200000) — computed exactly with BigInt and rounded half up to the micro.
 * Throws a `RangeError` unless both are non-negative safe integers and the result is safe.
 */
export function applyFractionMicros(amountMicros: number, fractionMicros: number): number {
  requireMicros('amountMicros', amountMicros);
  requireMicros('fractionMicros', fractionMicros);
  return divideRoundHalfUp(BigInt(amountMicros) * BigInt(fractionMicros), MICROS_PER_UNIT);
}

/**
 * The per-event amount of a CPM (price per thousand events): `cpmMicros / 1000`, rounded half
 * up to the micro (a 0.0015 CPM → 1.5 → 2 micros). Throws a `RangeError` unless `cpmMicros` is
 * a non-negative safe integer.
 */
export function cpmToEventMicros(cpmMicros: number): number {
  requireMicros('cpmMicros', cpmMicros);
  return divideRoundHalfUp(BigInt(cpmMicros), IMPRESSIONS_PER_MILLE);
}

/** `numerator / denominator` for non-negative BigInts, rounded half up, as a safe integer. */
export function divideRoundHalfUp(numerator: bigint, denominator: bigint): number {
  if (numerator < 0n || denominator <= 0n) throw new RangeError('divideRoundHalfUp takes n >= 0, d > 0');
  const result = Number((2n * numerator + denominator) / (2n * denominator));
  if (!Number.isSafeInteger(result)) throw new RangeError(`${result} micros is beyond a safe integer`);
  return result;
}

function requireMicros(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} ${value} is not a non-negative safe integer`);
  }
}
