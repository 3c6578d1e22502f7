import type { PaymentRuleInput, PaymentRuleView } from '../../src/ports/catalog.js';

/**
 * An active, conditional revshare rule paying half, of publisher 4, without dates or placements,
 * with `overrides` applied: a catalog view, which is also the domain's `PaymentRule`.
 */
export function paymentRule(overrides: Partial<PaymentRuleView> & { id: number }): PaymentRuleView {
  return {
    publisherId: 4,
    name: `rule ${overrides.id}`,
    isBase: false,
    state: 'active',
    priority: 5,
    startMs: null,
    endMs: null,
    placementIds: [],
    pricingType: 'revshare',
    revshareMicros: 500_000,
    costCpmMicros: 0,
    applyCostOnDefault: false,
    maxRevshareMicros: 0,
    targetEcpmMicros: 0,
    ...overrides,
  };
}

/**
 * What a catalog write takes for an active, conditional revshare rule of `publisherId` paying
 * half, named `rule`, without dates or placements, with `overrides` applied.
 */
export function paymentRuleInput(
  publisherId: number,
  overrides: Partial<PaymentRuleInput> = {},
): PaymentRuleInput {
  return {
    publisherId,
    name: 'rule',
    pricingType: 'revshare',
    revshareMicros: 500_000,
    costCpmMicros: null,
    applyCostOnDefault: false,
    maxRevshareMicros: null,
    targetEcpmMicros: null,
    priority: 5,
    state: 'active',
    startDate: null,
    endDate: null,
    placementIds: [],
    ...overrides,
  };
}
