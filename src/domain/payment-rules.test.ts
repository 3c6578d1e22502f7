import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { paymentRule } from '../../test/support/payment-rules.js';
import {
  applyFractionMicros,
  cpmToEventMicros,
  dynamicTerms,
  mediaCostMicros,
  ruleInEffect,
  selectPaymentRule,
} from './payment-rules.js';

const JAN_1 = Date.UTC(2026, 0, 1);
const JAN_2 = Date.UTC(2026, 0, 2);
const JAN_3 = Date.UTC(2026, 0, 3);

const BASE = paymentRule({ id: 1, isBase: true, priority: 1 });
const at = (nowMs: number, placementId: number | null = null) => ({ nowMs, placementId });

describe('selectPaymentRule', () => {
  it('falls back to the base rule when no conditional rule matches', () => {
    const rules = [BASE, paymentRule({ id: 2, placementIds: [7] })];
    assert.equal(selectPaymentRule(rules, at(JAN_1, 8)), BASE);
  });

  it('picks the highest-priority matching conditional rule over the base rule', () => {
    const rules = [
      BASE,
      paymentRule({ id: 2, priority: 3 }),
      paymentRule({ id: 3, priority: 9 }),
      paymentRule({ id: 4, priority: 6 }),
    ];
    assert.equal(selectPaymentRule(rules, at(JAN_1))?.id, 3);
  });

  it('breaks a tie at equal priority by the lowest id, whatever the list order', () => {
    const rules = [
      paymentRule({ id: 9, priority: 7 }),
      BASE,
      paymentRule({ id: 4, priority: 7 }),
      paymentRule({ id: 6, priority: 7 }),
    ];
    assert.equal(selectPaymentRule(rules, at(JAN_1))?.id, 4);
    assert.equal(selectPaymentRule([...rules].reverse(), at(JAN_1))?.id, 4);
  });

  it('skips inactive conditional rules', () => {
    const rules = [
      BASE,
      paymentRule({ id: 2, priority: 10, state: 'inactive' }),
      paymentRule({ id: 3, priority: 2 }),
    ];
    assert.equal(selectPaymentRule(rules, at(JAN_1))?.id, 3);
  });

  it('applies a rule from its start inclusive to its end exclusive', () => {
    const dated = paymentRule({ id: 2, startMs: JAN_2, endMs: JAN_3 });
    const rules = [BASE, dated];
    assert.equal(selectPaymentRule(rules, at(JAN_2 - 1)), BASE);
    assert.equal(selectPaymentRule(rules, at(JAN_2)), dated);
    assert.equal(selectPaymentRule(rules, at(JAN_3 - 1)), dated);
    assert.equal(selectPaymentRule(rules, at(JAN_3)), BASE);
  });

  it('treats a missing start or end as open', () => {
    const open = paymentRule({ id: 2, startMs: null, endMs: JAN_2 });
    assert.equal(selectPaymentRule([BASE, open], at(0)), open);
    const indefinite = paymentRule({ id: 3, startMs: JAN_2, endMs: null });
    assert.equal(selectPaymentRule([BASE, indefinite], at(Date.UTC(2100, 0, 1))), indefinite);
  });

  it('matches a placement condition only for a listed placement', () => {
    const targeted = paymentRule({ id: 2, placementIds: [7, 8] });
    const rules = [BASE, targeted];
    assert.equal(selectPaymentRule(rules, at(JAN_1, 8)), targeted);
    assert.equal(selectPaymentRule(rules, at(JAN_1, 9)), BASE);
  });

  it('does not apply a placement-targeted rule to a hit without a placement', () => {
    const rules = [BASE, paymentRule({ id: 2, placementIds: [7] })];
    assert.equal(selectPaymentRule(rules, at(JAN_1, null)), BASE);
  });

  it('requires every condition of a rule to match', () => {
    const both = paymentRule({ id: 2, priority: 10, placementIds: [7], startMs: JAN_2 });
    const rules = [BASE, both];
    assert.equal(selectPaymentRule(rules, at(JAN_1, 7)), BASE);
    assert.equal(selectPaymentRule(rules, at(JAN_2, 6)), BASE);
    assert.equal(selectPaymentRule(rules, at(JAN_2, 7)), both);
  });

  it('applies the base rule whatever its state or dates, as Xandr always applies it', () => {
    const base = paymentRule({ id: 1, isBase: true, state: 'inactive', startMs: JAN_3 });
    assert.equal(selectPaymentRule([base], at(JAN_1)), base);
  });

  it('never lets a base rule compete with conditional rules on priority', () => {
    const base = paymentRule({ id: 1, isBase: true, priority: 10 });
    const conditional = paymentRule({ id: 2, priority: 1 });
    assert.equal(selectPaymentRule([base, conditional], at(JAN_1)), conditional);
  });

  it('takes the lowest id when several rules are marked base', () => {
    const rules = [paymentRule({ id: 5, isBase: true }), paymentRule({ id: 3, isBase: true })];
    assert.equal(selectPaymentRule(rules, at(JAN_1))?.id, 3);
  });

  it('returns undefined when nothing matches and there is no base rule', () => {
    assert.equal(selectPaymentRule([paymentRule({ id: 2, placementIds: [7] })], at(JAN_1)), undefined);
    assert.equal(selectPaymentRule([], at(JAN_1)), undefined);
  });

  it('always returns a matching rule of the highest matching priority (property)', () => {
    const arbitraryRule = fc.record({
      id: fc.integer({ min: 2, max: 50 }),
      priority: fc.integer({ min: 1, max: 10 }),
      state: fc.constantFrom('active' as const, 'inactive' as const),
      placementIds: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(
        fc.array(arbitraryRule, { maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        (specs, placement) => {
          const rules = [BASE, ...specs.map((spec) => paymentRule(spec))];
          const chosen = selectPaymentRule(rules, at(JAN_1, placement));
          const matching = rules.filter(
            (r) =>
              !r.isBase &&
              r.state === 'active' &&
              (r.placementIds.length === 0 || r.placementIds.includes(placement)),
          );
          if (matching.length === 0) return chosen === BASE;
          const top = Math.max(...matching.map((r) => r.priority));
          const lowestId = Math.min(...matching.filter((r) => r.priority === top).map((r) => r.id));
          return chosen !== undefined && chosen.priority === top && chosen.id === lowestId;
        },
      ),
    );
  });
});

describe('ruleInEffect', () => {
  it('keeps a tracker’s own conditional rule in effect only while it is active and from its start inclusive to its end exclusive', () => {
    const dated = paymentRule({ id: 2, startMs: JAN_2, endMs: JAN_3 });
    assert.deepEqual(
      [JAN_2 - 1, JAN_2, JAN_3 - 1, JAN_3].map((nowMs) => ruleInEffect(dated, nowMs)),
      [false, true, true, false],
    );
    assert.equal(ruleInEffect(paymentRule({ id: 3, state: 'inactive' }), JAN_2), false);
    // Its placements are for the publisher's evaluation: the tracker names the rule itself.
    assert.equal(ruleInEffect(paymentRule({ id: 4, placementIds: [7] }), JAN_2), true);
  });

  it('keeps a base rule in effect whatever its state or dates, as selectPaymentRule applies it', () => {
    assert.equal(
      ruleInEffect(paymentRule({ id: 1, isBase: true, state: 'inactive', endMs: JAN_1 }), JAN_2),
      true,
    );
  });
});

describe('mediaCostMicros', () => {
  it('pays a revshare rule its share of the revenue', () => {
    // 30 % of a 2.50 CPM impression (0.0025) = 0.00075
    assert.equal(mediaCostMicros(paymentRule({ id: 2, revshareMicros: 300_000 }), 2_500), 750);
  });

  it('rounds a revshare half up to the micro', () => {
    assert.equal(mediaCostMicros(paymentRule({ id: 2, revshareMicros: 500_000 }), 3), 2); // 1.5 → 2
    assert.equal(mediaCostMicros(paymentRule({ id: 2, revshareMicros: 333_333 }), 1), 0); // 0.333333 → 0
  });

  it('computes large products exactly, without float error', () => {
    // 999999.999999 × 0.7 = 699999.9999993 → 699999999999 micros (float would drift)
    assert.equal(
      mediaCostMicros(paymentRule({ id: 2, revshareMicros: 700_000 }), 999_999_999_999),
      699_999_999_999,
    );
  });

  it('pays a CPM rule a thousandth of its CPM per event, whatever the revenue', () => {
    const cpm = paymentRule({ id: 2, pricingType: 'cpm', costCpmMicros: 1_500_000 });
    assert.equal(mediaCostMicros(cpm, 0), 1_500);
    assert.equal(mediaCostMicros(cpm, 99_999), 1_500);
  });

  it('rounds a CPM per event half up', () => {
    assert.equal(mediaCostMicros(paymentRule({ id: 2, pricingType: 'cpm', costCpmMicros: 1_500 }), 0), 2);
    assert.equal(mediaCostMicros(paymentRule({ id: 2, pricingType: 'cpm', costCpmMicros: 1_499 }), 0), 1);
  });

  it('pays a CPM rule on a default creative only when it applies cost on default', () => {
    const plain = paymentRule({ id: 2, pricingType: 'cpm', costCpmMicros: 2_000_000 });
    assert.equal(mediaCostMicros(plain, 0, true), 0);
    assert.equal(mediaCostMicros({ ...plain, applyCostOnDefault: true }, 0, true), 2_000);
    assert.equal(mediaCostMicros(plain, 0, false), 2_000);
  });

  describe('dynamic rules', () => {
    // min 40 %, max 80 %, target 1.00 CPM (1000 micros per event)
    const dynamic = paymentRule({
      id: 2,
      pricingType: 'dynamic',
      revshareMicros: 400_000,
      maxRevshareMicros: 800_000,
      targetEcpmMicros: 1_000_000,
    });

    it('pays the target eCPM when it lies within the share band', () => {
      assert.equal(mediaCostMicros(dynamic, 2_000), 1_000); // band [800, 1600]
    });

    it('pays no more than the maximum share when the revenue is too low for the target', () => {
      assert.equal(mediaCostMicros(dynamic, 1_000), 800);
      assert.equal(mediaCostMicros(dynamic, 0), 0);
    });

    it('pays at least the minimum share when it exceeds the target', () => {
      assert.equal(mediaCostMicros(dynamic, 5_000), 2_000);
    });

    it('lets the maximum win when the minimum share is configured above it', () => {
      const inverted = { ...dynamic, revshareMicros: 900_000, maxRevshareMicros: 500_000 };
      assert.deepEqual(dynamicTerms(inverted), {
        minShareMicros: 500_000,
        maxShareMicros: 500_000,
        targetMicros: 1_000,
      });
      assert.equal(mediaCostMicros(inverted, 10_000), 5_000);
    });

    it('stays within [min share, max share] of the revenue (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 1e8 }), (revenue, target) => {
          const cost = mediaCostMicros({ ...dynamic, targetEcpmMicros: target }, revenue);
          return (
            cost <= applyFractionMicros(revenue, 800_000) && cost >= applyFractionMicros(revenue, 400_000)
          );
        }),
      );
    });
  });

  it('refuses negative or fractional amounts', () => {
    assert.throws(() => mediaCostMicros(paymentRule({ id: 2 }), -1), RangeError);
    assert.throws(() => mediaCostMicros(paymentRule({ id: 2 }), 1.5), RangeError);
    assert.throws(() => cpmToEventMicros(Number.NaN), RangeError);
  });

  it('refuses a negative or fractional fraction even of a zero amount', () => {
    assert.throws(() => applyFractionMicros(0, -1), RangeError);
    assert.throws(() => applyFractionMicros(0, 0.5), RangeError);
  });

  it('refuses a negative revenue even on a CPM rule, whose cost does not depend on it', () => {
    assert.throws(
      () => mediaCostMicros(paymentRule({ id: 2, pricingType: 'cpm', costCpmMicros: 1_000_000 }), -1),
      RangeError,
    );
  });

  it('refuses a dynamic rule with a negative maximum share', () => {
    assert.throws(
      () => dynamicTerms(paymentRule({ id: 2, pricingType: 'dynamic', maxRevshareMicros: -1 })),
      RangeError,
    );
  });
});

describe('money helpers', () => {
  it('applies a fraction exactly and rounds half up (property against BigInt)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 999_999_999_999 }),
        fc.integer({ min: 0, max: 5_000_000 }),
        (a, f) => {
          const exact = BigInt(a) * BigInt(f);
          const floor = exact / 1_000_000n;
          const expected = exact % 1_000_000n >= 500_000n ? floor + 1n : floor;
          return applyFractionMicros(a, f) === Number(expected);
        },
      ),
    );
  });

  it('refuses a product beyond a safe integer rather than round it', () => {
    assert.throws(() => applyFractionMicros(Number.MAX_SAFE_INTEGER, 2_000_000), RangeError);
  });
});
