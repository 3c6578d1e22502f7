import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PaymentRule } from './payment-rules.js';
import { applyFractionMicros } from './payment-rules.js';
import type { LineItemRevenue, RevenueType } from './revenue.js';
import { clickCostAndRevenue, costAndRevenue, REVENUE_TYPES, revenueMicros } from './revenue.js';

function rule(overrides: Partial<PaymentRule>): PaymentRule {
  return {
    id: 1,
    name: 'base',
    isBase: true,
    state: 'active',
    priority: 1,
    startMs: null,
    endMs: null,
    placementIds: [],
    pricingType: 'revshare',
    revshareMicros: 0,
    costCpmMicros: 0,
    applyCostOnDefault: false,
    maxRevshareMicros: 0,
    targetEcpmMicros: 0,
    ...overrides,
  };
}

const lineItem = (revenueType: RevenueType, revenueValueMicros: number): LineItemRevenue => ({
  revenueType,
  revenueValueMicros,
});

const REVSHARE_50 = rule({ pricingType: 'revshare', revshareMicros: 500_000 });
const CPM_1 = rule({ pricingType: 'cpm', costCpmMicros: 1_000_000 });

describe('revenueMicros', () => {
  it('earns nothing on a line item without payment', () => {
    assert.equal(revenueMicros('none', 5_000_000, 1_234), 0);
  });

  it('earns a thousandth of the CPM per event on a flat CPM line item, whatever the cost', () => {
    assert.equal(revenueMicros('cpm', 2_500_000, 0), 2_500);
    assert.equal(revenueMicros('cpm', 2_500_000, 9_999), 2_500);
  });

  it('adds the CPM mark-up to the cost on cost plus CPM', () => {
    assert.equal(revenueMicros('cost_plus_cpm', 500_000, 1_000), 1_500);
  });

  it('adds the margin share of the cost on cost plus margin', () => {
    // 0.001 cost with a 20 % margin
    assert.equal(revenueMicros('cost_plus_margin', 200_000, 1_000), 1_200);
  });

  it('earns nothing on an impression of a cost-per-click line item, whatever the cost', () => {
    assert.equal(revenueMicros('cpc', 400_000, 0), 0);
    assert.equal(revenueMicros('cpc', 400_000, 9_999), 0);
  });

  it('defines revshare revenue as a share of media cost', () => {
    assert.equal(revenueMicros('revshare', 1_250_000, 1_000), 1_250);
  });

  it('rounds each part half up to the micro', () => {
    assert.equal(revenueMicros('cpm', 1_500, 0), 2);
    assert.equal(revenueMicros('cost_plus_margin', 500_000, 1), 2); // 1.5 → 2
    assert.equal(revenueMicros('cost_plus_cpm', 1_499, 10), 11);
  });

  it('refuses a revenue beyond a safe integer rather than return an inexact amount', () => {
    assert.throws(() => revenueMicros('cost_plus_cpm', 1_000_000, Number.MAX_SAFE_INTEGER), RangeError);
  });

  it('lists every revenue type', () => {
    assert.deepEqual([...REVENUE_TYPES].sort(), [
      'cost_plus_cpm',
      'cost_plus_margin',
      'cpc',
      'cpm',
      'none',
      'revshare',
    ]);
  });
});

describe('costAndRevenue', () => {
  it('takes ancost as the cost, overriding the payment rule, and derives revenue from it', () => {
    assert.deepEqual(costAndRevenue(lineItem('cost_plus_margin', 200_000), CPM_1, 5_000), {
      mediaCostMicros: 5_000,
      revenueMicros: 6_000,
    });
    assert.deepEqual(costAndRevenue(lineItem('cpm', 2_000_000), REVSHARE_50, 123), {
      mediaCostMicros: 123,
      revenueMicros: 2_000,
    });
  });

  it('takes an ancost of zero as a cost of zero', () => {
    assert.deepEqual(costAndRevenue(lineItem('cpm', 2_000_000), CPM_1, 0), {
      mediaCostMicros: 0,
      revenueMicros: 2_000,
    });
  });

  it('computes a flat CPM revenue first and the revshare cost from it', () => {
    assert.deepEqual(
      costAndRevenue(lineItem('cpm', 3_000_000), rule({ revshareMicros: 300_000 }), undefined),
      {
        mediaCostMicros: 900,
        revenueMicros: 3_000,
      },
    );
  });

  it('pays a CPM rule even when the line item earns nothing', () => {
    assert.deepEqual(costAndRevenue(lineItem('none', 0), CPM_1, undefined), {
      mediaCostMicros: 1_000,
      revenueMicros: 0,
    });
  });

  it('costs nothing without a payment rule or ancost', () => {
    assert.deepEqual(costAndRevenue(lineItem('cpm', 1_000_000), undefined, undefined), {
      mediaCostMicros: 0,
      revenueMicros: 1_000,
    });
    assert.deepEqual(costAndRevenue(lineItem('cost_plus_cpm', 1_000_000), undefined, undefined), {
      mediaCostMicros: 0,
      revenueMicros: 1_000,
    });
  });

  it('computes a CPM rule cost first and the cost-plus revenue from it', () => {
    assert.deepEqual(costAndRevenue(lineItem('cost_plus_cpm', 500_000), CPM_1, undefined), {
      mediaCostMicros: 1_000,
      revenueMicros: 1_500,
    });
    assert.deepEqual(costAndRevenue(lineItem('cost_plus_margin', 250_000), CPM_1, undefined), {
      mediaCostMicros: 1_000,
      revenueMicros: 1_250,
    });
  });

  describe('circular: cost-based revenue with a revenue-based payment rule', () => {
    it('pays a revshare on cost plus CPM where both agreements hold', () => {
      // 50 % revshare, cost + 2.00 CPM: cost 2.00 CPM, revenue 4.00 CPM, publisher gets half.
      assert.deepEqual(costAndRevenue(lineItem('cost_plus_cpm', 2_000_000), REVSHARE_50, undefined), {
        mediaCostMicros: 2_000,
        revenueMicros: 4_000,
      });
    });

    it('keeps the revshare within a micro of the agreed share on cost plus CPM (property)', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 999_999 }),
          fc.integer({ min: 0, max: 100_000_000 }),
          (share, markupCpm) => {
            const { mediaCostMicros: cost, revenueMicros: revenue } = costAndRevenue(
              lineItem('cost_plus_cpm', markupCpm),
              rule({ revshareMicros: share }),
              undefined,
            );
            return Math.abs(cost - applyFractionMicros(revenue, share)) <= 1 && revenue >= cost;
          },
        ),
      );
    });

    it('records zero cost and revenue for cost plus margin with a revshare rule, the only consistent split', () => {
      assert.deepEqual(costAndRevenue(lineItem('cost_plus_margin', 200_000), REVSHARE_50, undefined), {
        mediaCostMicros: 0,
        revenueMicros: 0,
      });
      assert.deepEqual(costAndRevenue(lineItem('revshare', 1_500_000), REVSHARE_50, undefined), {
        mediaCostMicros: 0,
        revenueMicros: 0,
      });
    });

    it('records zero cost when a 100 % revshare on cost plus CPM has no finite split', () => {
      assert.deepEqual(
        costAndRevenue(lineItem('cost_plus_cpm', 1_000_000), rule({ revshareMicros: 1_000_000 }), undefined),
        { mediaCostMicros: 0, revenueMicros: 1_000 },
      );
    });

    it('records zero cost, not the target, when a dynamic rule’s 100 % minimum share of cost plus CPM has no finite split', () => {
      // The 2.00 CPM target pays less than all of the 2.00 + 1.00 CPM revenue it produces: the
      // floor binds, and a 100 % share of a revenue growing with cost has no finite solution.
      const allOfIt = rule({
        pricingType: 'dynamic',
        revshareMicros: 1_000_000,
        maxRevshareMicros: 1_000_000,
        targetEcpmMicros: 2_000_000,
      });
      assert.deepEqual(costAndRevenue(lineItem('cost_plus_cpm', 1_000_000), allOfIt, undefined), {
        mediaCostMicros: 0,
        revenueMicros: 1_000,
      });
    });

    describe('dynamic rule (min 40 %, max 80 %, target 1.00 CPM)', () => {
      const dynamic = (target: number) =>
        rule({
          pricingType: 'dynamic',
          revshareMicros: 400_000,
          maxRevshareMicros: 800_000,
          targetEcpmMicros: target,
        });

      it('pays the target when its cost-plus revenue keeps the share within the band', () => {
        // cost 1000 → revenue 1000 × 1.5 = 1500; 1000 / 1500 = 67 %
        assert.deepEqual(
          costAndRevenue(lineItem('cost_plus_margin', 500_000), dynamic(1_000_000), undefined),
          {
            mediaCostMicros: 1_000,
            revenueMicros: 1_500,
          },
        );
      });

      it('solves at the maximum share when the target would exceed it', () => {
        // cost + 0.20 CPM: paying 1000 gives revenue 1200, 83 % > 80 %; at 80 %: c = 0.8 × 200 / 0.2 = 800
        assert.deepEqual(costAndRevenue(lineItem('cost_plus_cpm', 200_000), dynamic(1_000_000), undefined), {
          mediaCostMicros: 800,
          revenueMicros: 1_000,
        });
      });

      it('solves at the minimum share when the target is below it', () => {
        // cost + 3.00 CPM, target 0.10 CPM: 100 / 3100 < 40 %; at 40 %: c = 0.4 × 3000 / 0.6 = 2000
        assert.deepEqual(costAndRevenue(lineItem('cost_plus_cpm', 3_000_000), dynamic(100_000), undefined), {
          mediaCostMicros: 2_000,
          revenueMicros: 5_000,
        });
      });

      it('pays the target when it is exactly the maximum or the minimum share of the revenue it produces', () => {
        // A 25 % margin on the 1.00 CPM target bills 1250: the target is 80 % of it.
        const atMax = rule({
          pricingType: 'dynamic',
          revshareMicros: 400_000,
          maxRevshareMicros: 800_000,
          targetEcpmMicros: 1_000_000,
        });
        const atMin = { ...atMax, revshareMicros: 800_000, maxRevshareMicros: 900_000 };
        for (const paymentRule of [atMax, atMin]) {
          assert.deepEqual(costAndRevenue(lineItem('cost_plus_margin', 250_000), paymentRule, undefined), {
            mediaCostMicros: 1_000,
            revenueMicros: 1_250,
          });
        }
      });

      it('records zero cost and revenue when cost plus margin cannot reach the band', () => {
        // margin 10 %: at the target the share is 91 % > 80 %, and 80 % × 1.1 < 1 leaves only 0
        assert.deepEqual(
          costAndRevenue(lineItem('cost_plus_margin', 100_000), dynamic(1_000_000), undefined),
          {
            mediaCostMicros: 0,
            revenueMicros: 0,
          },
        );
      });

      it('keeps cost within the band of the revenue it produces (property)', () => {
        fc.assert(
          fc.property(
            fc.constantFrom<RevenueType>('cost_plus_cpm', 'cost_plus_margin', 'revshare'),
            fc.integer({ min: 0, max: 5_000_000 }),
            fc.integer({ min: 0, max: 10_000_000 }),
            (type, value, target) => {
              const { mediaCostMicros: cost, revenueMicros: revenue } = costAndRevenue(
                lineItem(type, value),
                dynamic(target),
                undefined,
              );
              return (
                cost <= applyFractionMicros(revenue, 800_000) + 1 &&
                cost + 1 >= applyFractionMicros(revenue, 400_000)
              );
            },
          ),
        );
      });
    });
  });
});

describe('clickCostAndRevenue', () => {
  const dynamicRule = rule({
    pricingType: 'dynamic',
    revshareMicros: 100_000,
    maxRevshareMicros: 900_000,
    targetEcpmMicros: 1_500_000,
  });

  it('prices nothing per thousand impressions on a click: no CPM revenue, mark-up or cost', () => {
    const free = { mediaCostMicros: 0, revenueMicros: 0 };
    for (const paymentRule of [CPM_1, REVSHARE_50, dynamicRule, undefined]) {
      assert.deepEqual(clickCostAndRevenue(lineItem('cpm', 2_000_000), paymentRule, undefined), free);
      assert.deepEqual(
        clickCostAndRevenue(lineItem('cost_plus_cpm', 2_000_000), paymentRule, undefined),
        free,
      );
    }
    // Against an impression, which earns a 2.00 CPM line item's 2000 micros and costs a 1.00 CPM rule's 1000.
    assert.deepEqual(costAndRevenue(lineItem('cpm', 2_000_000), CPM_1, undefined), {
      mediaCostMicros: 1_000,
      revenueMicros: 2_000,
    });
  });

  it('neither costs nor earns anything on a click without ancost under a dynamic rule, whatever its target eCPM', () => {
    // Against an impression, where the 1.50 CPM target is paid and a 20 % margin billed on it.
    assert.deepEqual(costAndRevenue(lineItem('cost_plus_margin', 200_000), dynamicRule, undefined), {
      mediaCostMicros: 1_500,
      revenueMicros: 1_800,
    });
    assert.deepEqual(clickCostAndRevenue(lineItem('cost_plus_margin', 200_000), dynamicRule, undefined), {
      mediaCostMicros: 0,
      revenueMicros: 0,
    });
  });

  it("applies the shares of cost to the click's own cost, its ancost", () => {
    // 0.25 paid for the click: a 20 % margin bills 0.30, a cost-plus CPM bills the cost alone.
    assert.deepEqual(clickCostAndRevenue(lineItem('cost_plus_margin', 200_000), CPM_1, 250_000), {
      mediaCostMicros: 250_000,
      revenueMicros: 300_000,
    });
    assert.deepEqual(clickCostAndRevenue(lineItem('cost_plus_cpm', 2_000_000), REVSHARE_50, 250_000), {
      mediaCostMicros: 250_000,
      revenueMicros: 250_000,
    });
    assert.deepEqual(clickCostAndRevenue(lineItem('cpm', 2_000_000), CPM_1, 250_000), {
      mediaCostMicros: 250_000,
      revenueMicros: 0,
    });
  });
});

describe('a cost-per-click (cpc) line item', () => {
  // 0.40 a click.
  const cpc = lineItem('cpc', 400_000);
  const dynamicRule = rule({
    pricingType: 'dynamic',
    revshareMicros: 250_000,
    maxRevshareMicros: 800_000,
    targetEcpmMicros: 1_500_000,
  });

  it('earns its price on a click, and pays a revshare rule its share of that price', () => {
    assert.deepEqual(clickCostAndRevenue(cpc, REVSHARE_50, undefined), {
      mediaCostMicros: 200_000,
      revenueMicros: 400_000,
    });
  });

  it('pays a dynamic rule its minimum share of a click’s price: its target eCPM is per thousand impressions', () => {
    assert.deepEqual(clickCostAndRevenue(cpc, dynamicRule, undefined), {
      mediaCostMicros: 100_000,
      revenueMicros: 400_000,
    });
  });

  it('earns its price on a click that costs nothing under a cpm rule or without a rule', () => {
    for (const paymentRule of [CPM_1, undefined]) {
      assert.deepEqual(clickCostAndRevenue(cpc, paymentRule, undefined), {
        mediaCostMicros: 0,
        revenueMicros: 400_000,
      });
    }
  });

  it('takes a click’s ancost as its cost over any rule, and still earns the price per click', () => {
    for (const paymentRule of [REVSHARE_50, CPM_1, dynamicRule, undefined]) {
      assert.deepEqual(clickCostAndRevenue(cpc, paymentRule, 250_000), {
        mediaCostMicros: 250_000,
        revenueMicros: 400_000,
      });
    }
    assert.deepEqual(clickCostAndRevenue(cpc, REVSHARE_50, 0), {
      mediaCostMicros: 0,
      revenueMicros: 400_000,
    });
  });

  it('earns nothing on an impression: a cpm rule still pays its CPM, a share of the revenue is 0', () => {
    assert.deepEqual(costAndRevenue(cpc, CPM_1, undefined), { mediaCostMicros: 1_000, revenueMicros: 0 });
    for (const paymentRule of [REVSHARE_50, dynamicRule, undefined]) {
      assert.deepEqual(costAndRevenue(cpc, paymentRule, undefined), {
        mediaCostMicros: 0,
        revenueMicros: 0,
      });
    }
  });

  it('takes an impression’s ancost as its cost over any rule, and earns nothing on it', () => {
    for (const paymentRule of [REVSHARE_50, CPM_1, dynamicRule, undefined]) {
      assert.deepEqual(costAndRevenue(cpc, paymentRule, 4_200), {
        mediaCostMicros: 4_200,
        revenueMicros: 0,
      });
    }
  });

  it('books the largest price per click the API takes exactly, and a share of it rounded half up', () => {
    const largest = lineItem('cpc', 999_999_999_999);
    assert.deepEqual(clickCostAndRevenue(largest, REVSHARE_50, undefined), {
      mediaCostMicros: 500_000_000_000, // 499999999999.5 → 500000000000
      revenueMicros: 999_999_999_999,
    });
  });
});
