import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { paymentRule } from '../../test/support/payment-rules.js';
import type { PaymentRule } from './payment-rules.js';
import type { TrackerPricing } from './pricing-warnings.js';
import { clickPricingWarnings, impressionPricingWarnings } from './pricing-warnings.js';
import type { RevenueType } from './revenue.js';

const NOW_MS = Date.UTC(2026, 11, 5, 12);
const DAY_MS = 86_400_000;

const BASE_HALF = paymentRule({ id: 1, isBase: true, name: 'Base 50 %' });
const CPM_RULE = paymentRule({ id: 2, pricingType: 'cpm', revshareMicros: 0, costCpmMicros: 1_000_000 });

function tracker(
  revenueType: RevenueType,
  revenueValueMicros: number,
  publisherRules: readonly PaymentRule[],
  extra: Partial<TrackerPricing> = {},
): TrackerPricing {
  return {
    publisherId: 4,
    placementId: null,
    lineItem: { id: 7, revenueType, revenueValueMicros },
    ownRule: null,
    publisherRules,
    ...extra,
  };
}

const codesAndRules = (pricing: TrackerPricing) =>
  impressionPricingWarnings(pricing, NOW_MS).map(
    (warning) => `${warning.code}${/payment rule (\d+)/.exec(warning.message)?.[1] ?? ''}`,
  );

/**
 * Rules that pay a share of nothing by their own terms, which no warning names: dynamic rules
 * with a minimum share of 0 (one with no maximum, one with no target to raise it by), and a base
 * revshare of 0.
 */
function payingNothingByShare(): PaymentRule[] {
  return [
    paymentRule({
      id: 3,
      pricingType: 'dynamic',
      revshareMicros: 0,
      maxRevshareMicros: 0,
      endMs: NOW_MS + DAY_MS,
    }),
    // No minimum share and no target: nothing to raise the share of 0 to.
    paymentRule({
      id: 4,
      pricingType: 'dynamic',
      revshareMicros: 0,
      maxRevshareMicros: 800_000,
      endMs: NOW_MS + DAY_MS,
    }),
    paymentRule({ id: 1, isBase: true, revshareMicros: 0 }),
  ];
}

describe('impressionPricingWarnings', () => {
  it('warns that a publisher without a payment rule gets its hits booked at a cost of 0, saying how to add one', () => {
    const [warning, ...rest] = impressionPricingWarnings(tracker('cpm', 2_000_000, []), NOW_MS);
    assert.deepEqual(rest, []);
    assert.equal(warning?.code, 'no_payment_rule');
    assert.match(
      warning?.message ?? '',
      /publisher 4 has no payment rule.*POST \/v1\/payment-rules with publisherId 4/,
    );
  });

  it('says nothing when every rule that may price the hits books a cost, and names only the one that does not', () => {
    assert.deepEqual(codesAndRules(tracker('cpm', 2_000_000, [BASE_HALF])), []);
    assert.deepEqual(codesAndRules(tracker('cost_plus_cpm', 2_000_000, [BASE_HALF])), []);
    const cpmUntilTomorrow = paymentRule({ ...CPM_RULE, endMs: NOW_MS + DAY_MS });
    assert.deepEqual(codesAndRules(tracker('cost_plus_margin', 250_000, [cpmUntilTomorrow, BASE_HALF])), [
      'zero_media_cost1',
    ]);
    assert.deepEqual(
      codesAndRules(
        tracker('cost_plus_margin', 250_000, [paymentRule({ ...CPM_RULE, id: 3, isBase: true })]),
      ),
      [],
    );
  });

  it('warns of a share of a revenue computed from the cost, whose only agreed cost is 0, naming the rule and the way out', () => {
    for (const [type, value] of [
      ['cost_plus_margin', 250_000],
      ['revshare', 800_000],
    ] as const) {
      const [warning] = impressionPricingWarnings(tracker(type, value, [BASE_HALF]), NOW_MS);
      assert.equal(warning?.code, 'zero_media_cost', type);
      assert.match(
        warning?.message ?? '',
        new RegExp(`payment rule 1 \\(Base 50 %\\).*line item 7's ${type} revenue`),
      );
      assert.match(warning?.message ?? '', /cpm rule.*ancost/);
      assert.match(warning?.message ?? '', /booked with a media cost of 0 and a revenue of 0:/);
    }
    // A 100 % share of a revenue that grows with the cost: no amounts agree, and the cost is 0.
    const whole = paymentRule({ id: 1, isBase: true, revshareMicros: 1_000_000 });
    const [markup] = impressionPricingWarnings(tracker('cost_plus_cpm', 2_000_000, [whole]), NOW_MS);
    assert.equal(markup?.code, 'zero_media_cost');
    // The mark-up is still billed: only the cost is 0.
    assert.match(markup?.message ?? '', /booked with a media cost of 0: /);
  });

  it('warns of a share of no revenue, and of a CPM too small to pay a micro', () => {
    assert.match(
      impressionPricingWarnings(tracker('none', 0, [BASE_HALF]), NOW_MS)[0]?.message ?? '',
      /books none \(revenueType none\)/,
    );
    // 0.0004 CPM: 0.4 micros an impression, rounded to 0, of which half is 0.
    assert.deepEqual(codesAndRules(tracker('cpm', 400, [BASE_HALF])), ['zero_media_cost1']);
    const tinyCpm = paymentRule({ ...CPM_RULE, id: 1, isBase: true, costCpmMicros: 400 });
    assert.match(
      impressionPricingWarnings(tracker('cpm', 2_000_000, [tinyCpm]), NOW_MS)[0]?.message ?? '',
      /CPM is less than half a micro an impression/,
    );
  });

  it('warns that a share of a cost-per-click line item’s revenue pays nothing on an impression, its clicks alone paying the share', () => {
    const dynamicRule = paymentRule({
      id: 3,
      pricingType: 'dynamic',
      revshareMicros: 200_000,
      maxRevshareMicros: 800_000,
      targetEcpmMicros: 1_500_000,
      endMs: NOW_MS + DAY_MS,
    });
    const warnings = impressionPricingWarnings(tracker('cpc', 400_000, [dynamicRule, BASE_HALF]), NOW_MS);
    assert.deepEqual(
      warnings.map((warning) => warning.code),
      ['zero_media_cost', 'zero_media_cost'],
    );
    for (const warning of warnings) {
      assert.match(warning.message, /booked with a media cost of 0 and a revenue of 0:/);
      assert.match(
        warning.message,
        /line item 7 earns on clicks only \(revenueType cpc\), nothing on an impression, so a share of its revenue is paid on its click-tracker hits alone: to pay for impressions too, make the publisher's base rule a cpm rule.*or send each hit's cost as ancost$/,
      );
      // Shown to the publisher's keys too, which see no revenue: not the price per click.
      assert.doesNotMatch(warning.message, /400|0\.4/);
    }
    assert.match(
      impressionPricingWarnings(tracker('cpc', 0, [BASE_HALF]), NOW_MS)[0]?.message ?? '',
      /line item 7 books none: its price per click is 0, and it earns nothing on an impression \(revenueType cpc\): give the line item a price per click, or make/,
    );
  });

  it('says nothing of a cost-per-click line item’s impressions priced by a cpm rule, and warns of no rule at all', () => {
    assert.deepEqual(
      codesAndRules(tracker('cpc', 400_000, [paymentRule({ ...CPM_RULE, id: 3, isBase: true })])),
      [],
    );
    assert.deepEqual(codesAndRules(tracker('cpc', 400_000, [])), ['no_payment_rule']);
  });

  it('says nothing of a rule that pays nothing by its own terms', () => {
    const nothing = [
      paymentRule({ id: 2, pricingType: 'cpm', revshareMicros: 0, costCpmMicros: 0, endMs: NOW_MS + DAY_MS }),
      ...payingNothingByShare(),
    ];
    assert.deepEqual(codesAndRules(tracker('cost_plus_margin', 250_000, nothing)), []);
  });

  it('names the tracker’s own conditional rule once, as the snapshot also lists it among its publisher’s rules', () => {
    const own = paymentRule({ id: 12, endMs: NOW_MS + DAY_MS });
    const base = paymentRule({ ...CPM_RULE, id: 11, isBase: true });
    assert.deepEqual(codesAndRules(tracker('cost_plus_margin', 250_000, [own, base], { ownRule: own })), [
      'zero_media_cost12',
    ]);
  });

  it('looks only at the rules that may still price the tracker’s hits: its own base rule alone, no rule ended or on another placement', () => {
    const ownBase = paymentRule({ ...CPM_RULE, id: 5, isBase: true });
    const conditionalShare = paymentRule({ id: 6, priority: 9 });
    assert.deepEqual(
      codesAndRules(tracker('cost_plus_margin', 250_000, [conditionalShare, ownBase], { ownRule: ownBase })),
      [],
    );
    const ended = paymentRule({ id: 8, endMs: NOW_MS - DAY_MS });
    const elsewhere = paymentRule({ id: 9, placementIds: [30] });
    const later = paymentRule({ id: 10, startMs: NOW_MS + DAY_MS });
    const baseCpm = paymentRule({ ...CPM_RULE, id: 11, isBase: true });
    assert.deepEqual(
      codesAndRules(
        tracker('cost_plus_margin', 250_000, [ended, elsewhere, later, baseCpm], {
          placementId: 31,
          ownRule: paymentRule({ id: 12, state: 'inactive' }),
        }),
      ),
      ['own_rule_not_in_effect12', 'zero_media_cost10'],
    );
    // On its placement, the conditional rule may price it too; and its own conditional rule in effect.
    assert.deepEqual(
      codesAndRules(
        tracker('cost_plus_margin', 250_000, [elsewhere, baseCpm], {
          placementId: 30,
          ownRule: paymentRule({ id: 12, endMs: NOW_MS + DAY_MS }),
        }),
      ),
      ['zero_media_cost12', 'zero_media_cost9'],
    );
  });

  it('warns that the tracker’s own rule, inactive or ended, prices none of its hits, the publisher’s rules pricing them instead, saying the change that puts it back in effect', () => {
    const baseShare = paymentRule({ id: 1, isBase: true });
    const inactive = paymentRule({ id: 12, name: 'Deal', state: 'inactive' });
    const ended = paymentRule({ id: 13, name: 'Autumn', endMs: Date.UTC(2026, 10, 1) });
    const inactiveAndEnded = paymentRule({
      id: 16,
      name: 'Summer',
      state: 'inactive',
      endMs: Date.UTC(2026, 8, 1),
    });
    for (const [own, why, change] of [
      [
        inactive,
        'payment rule 12 (Deal), this tracker’s own (paymentRuleId), is inactive',
        'activate the rule (PATCH /v1/payment-rules/12 {"state": "active"})',
      ],
      [
        ended,
        'payment rule 13 (Autumn), this tracker’s own (paymentRuleId), ended with 2026-10-31',
        'move its endDate (PATCH /v1/payment-rules/13 {"endDate": …})',
      ],
      [
        inactiveAndEnded,
        'payment rule 16 (Summer), this tracker’s own (paymentRuleId), is inactive and ended with 2026-08-31',
        'activate the rule and move its endDate (PATCH /v1/payment-rules/16 {"state": "active", "endDate": …})',
      ],
    ] as const) {
      assert.deepEqual(
        impressionPricingWarnings(tracker('cpm', 2_000_000, [baseShare], { ownRule: own }), NOW_MS),
        [
          {
            code: 'own_rule_not_in_effect',
            message: `${why.replace('’', "'")}: the publisher's rules price its hits instead; ${change}, or name another`,
          },
        ],
      );
    }
    // A click tracker of a cpc line item, whose clicks the rules price, is told the same.
    const cpc = tracker('cpc', 500_000, [baseShare], { ownRule: inactive });
    const [clickWarning, ...more] = clickPricingWarnings(cpc, NOW_MS, 'id_only');
    assert.equal(more.length, 0);
    assert.equal(clickWarning?.code, 'own_rule_not_in_effect');
    assert.match(
      clickWarning?.message ?? '',
      /^payment rule 12, this tracker's own \(paymentRuleId\), is inactive:/,
    );
    // One that starts later, or is in effect, or the base rule, is no warning.
    for (const own of [
      paymentRule({ id: 14, startMs: NOW_MS + DAY_MS }),
      paymentRule({ id: 15, endMs: NOW_MS + 1 }),
      baseShare,
    ])
      assert.deepEqual(
        impressionPricingWarnings(tracker('cpm', 2_000_000, [baseShare], { ownRule: own }), NOW_MS),
        [],
      );
  });

  it('looks no further than the first rule in effect for good (now, with no end): the rules after it never price a hit', () => {
    const baseShare = paymentRule({ id: 1, isBase: true });
    const ownCpm = paymentRule({ ...CPM_RULE, id: 2 });
    assert.deepEqual(
      codesAndRules(tracker('cost_plus_margin', 250_000, [baseShare], { ownRule: ownCpm })),
      [],
    );
    const topCpm = paymentRule({ ...CPM_RULE, id: 3, priority: 9, placementIds: [30] });
    const lowerShare = paymentRule({ id: 4, priority: 2 });
    const rules = [topCpm, lowerShare, baseShare];
    assert.deepEqual(codesAndRules(tracker('cost_plus_margin', 250_000, rules, { placementId: 30 })), []);
    // Elsewhere the CPM rule does not apply; one starting tomorrow does not shadow the rules after it yet.
    assert.deepEqual(codesAndRules(tracker('cost_plus_margin', 250_000, rules, { placementId: 31 })), [
      'zero_media_cost4',
    ]);
    const laterCpm = paymentRule({ ...CPM_RULE, id: 5, priority: 9, startMs: NOW_MS + DAY_MS });
    assert.deepEqual(codesAndRules(tracker('cost_plus_margin', 250_000, [laterCpm, baseShare])), [
      'zero_media_cost1',
    ]);
  });

  it('says why a share of a line item’s CPM comes to nothing: the CPM, or the share of what it books', () => {
    const [tinyCpm] = impressionPricingWarnings(tracker('cpm', 400, [BASE_HALF]), NOW_MS);
    assert.match(tinyCpm?.message ?? '', /CPM comes to less than half a micro an impression/);
    const smallShare = paymentRule({ id: 1, isBase: true, revshareMicros: 400_000 });
    const [share] = impressionPricingWarnings(tracker('cpm', 1_000, [smallShare]), NOW_MS);
    assert.match(
      share?.message ?? '',
      /a share of line item 7's revenue an impression, which comes to less than half a micro/,
    );
    // A tracker's warnings are shown to keys scoped to its publisher, which see no revenue.
    const [large] = impressionPricingWarnings(
      tracker('cpm', 2_500_000, [paymentRule({ id: 1, isBase: true, revshareMicros: 100 })]),
      NOW_MS,
    );
    assert.ok(large !== undefined && !/2500|2\.5/.test(large.message), large?.message);
  });
});

describe('clickPricingWarnings', () => {
  const clickCodesAndRules = (pricing: TrackerPricing) =>
    clickPricingWarnings(pricing, NOW_MS).map(
      (warning) => `${warning.code}${/payment rule (\d+)/.exec(warning.message)?.[1] ?? ''}`,
    );

  it('warns that a cost-per-click line item’s clicks cost 0 on a publisher without a payment rule, saying to add one that pays a share, not a cpm rule', () => {
    const [warning, ...rest] = clickPricingWarnings(tracker('cpc', 400_000, []), NOW_MS);
    assert.deepEqual(rest, []);
    assert.equal(warning?.code, 'no_payment_rule');
    assert.equal(
      warning?.message,
      "publisher 4 has no payment rule, so this tracker's clicks are booked with a media cost of 0 unless they carry ancost: add the publisher's base rule (POST /v1/payment-rules with publisherId 4), a revshare or dynamic one: a cpm rule pays impressions only",
    );
  });

  it('says nothing of a click tracker of a line item not priced per click, whose clicks cost their ancost alone, whatever the rules', () => {
    for (const [type, value] of [
      ['none', 0],
      ['cpm', 2_000_000],
      ['cost_plus_cpm', 2_000_000],
      ['cost_plus_margin', 250_000],
      ['revshare', 800_000],
    ] as const) {
      assert.deepEqual(clickCodesAndRules(tracker(type, value, [])), [], type);
      assert.deepEqual(clickCodesAndRules(tracker(type, value, [BASE_HALF])), [], type);
    }
  });

  it('says nothing when a share of the price per click pays the click, or a cpm rule, which pays impressions only, prices it', () => {
    assert.deepEqual(clickCodesAndRules(tracker('cpc', 400_000, [BASE_HALF])), []);
    const dynamicRule = paymentRule({
      id: 3,
      pricingType: 'dynamic',
      revshareMicros: 200_000,
      maxRevshareMicros: 800_000,
      targetEcpmMicros: 1_500_000,
      endMs: NOW_MS + DAY_MS,
    });
    assert.deepEqual(clickCodesAndRules(tracker('cpc', 400_000, [dynamicRule, BASE_HALF])), []);
    const cpmBase = paymentRule({ ...CPM_RULE, id: 1, isBase: true });
    assert.deepEqual(clickCodesAndRules(tracker('cpc', 400_000, [cpmBase])), []);
    assert.deepEqual(clickCodesAndRules(tracker('cpc', 0, [cpmBase])), []);
  });

  it('warns of a share of a price per click of 0, which books no revenue either, naming the rule and what to change', () => {
    const [warning, ...rest] = clickPricingWarnings(tracker('cpc', 0, [BASE_HALF]), NOW_MS);
    assert.deepEqual(rest, []);
    assert.equal(warning?.code, 'zero_media_cost');
    assert.equal(
      warning?.message,
      "clicks without ancost that payment rule 1 (Base 50 %) prices are booked with a media cost of 0 and a revenue of 0: it pays a share of the revenue, and line item 7 books none: its price per click is 0 (revenueType cpc): give the line item a price per click, or send each click's cost as ancost",
    );
  });

  it('warns of a share of the price per click too small to pay a micro, and of a dynamic rule whose minimum share, all a click is paid, is 0, not saying the price', () => {
    const tinyShare = paymentRule({ id: 1, isBase: true, name: 'Base', revshareMicros: 1 });
    const [share] = clickPricingWarnings(tracker('cpc', 400_000, [tinyShare]), NOW_MS);
    assert.equal(share?.code, 'zero_media_cost');
    assert.match(
      share?.message ?? '',
      /^clicks without ancost that payment rule 1 \(Base\) prices are booked with a media cost of 0: it pays a share of line item 7's price per click, which comes to less than half a micro: raise the share or the price per click/,
    );
    const noMinimum = paymentRule({
      id: 3,
      pricingType: 'dynamic',
      revshareMicros: 0,
      maxRevshareMicros: 800_000,
      targetEcpmMicros: 1_500_000,
      endMs: NOW_MS + DAY_MS,
    });
    const tinyMinimum = paymentRule({ ...noMinimum, id: 5, revshareMicros: 1, endMs: NOW_MS + 2 * DAY_MS });
    const warnings = clickPricingWarnings(
      tracker('cpc', 400_000, [noMinimum, tinyMinimum, BASE_HALF]),
      NOW_MS,
    );
    assert.deepEqual(
      warnings.map((warning) => warning.code),
      ['zero_media_cost', 'zero_media_cost'],
    );
    assert.match(
      warnings[0]?.message ?? '',
      /payment rule 3 .*: a click is not an impression, so its target eCPM does not apply: it pays a click its minimum share \(revshare\) of line item 7's price per click, and that share is 0: raise the rule's revshare/,
    );
    assert.match(warnings[1]?.message ?? '', /payment rule 5 .*which comes to less than half a micro/);
    // Shown to the publisher's keys too, which see no revenue: not the price per click.
    for (const warning of [share, ...warnings]) assert.doesNotMatch(warning?.message ?? '', /400|0\.4/);
  });

  it('says nothing of a rule that pays nothing by its own terms, and looks at the rules that may price the click as for an impression', () => {
    const nothing = payingNothingByShare();
    assert.deepEqual(clickCodesAndRules(tracker('cpc', 400_000, nothing)), []);
    const ownZero = paymentRule({ id: 12, revshareMicros: 1, endMs: NOW_MS + DAY_MS });
    const elsewhere = paymentRule({ id: 9, revshareMicros: 1, placementIds: [30] });
    assert.deepEqual(
      clickCodesAndRules(
        tracker('cpc', 400_000, [elsewhere, BASE_HALF], { ownRule: ownZero, placementId: 31 }),
      ),
      ['zero_media_cost12'],
    );
    const ownBase = paymentRule({ id: 1, isBase: true, revshareMicros: 1 });
    assert.deepEqual(clickCodesAndRules(tracker('cpc', 400_000, [ownBase], { ownRule: ownBase })), [
      'zero_media_cost1',
    ]);
  });
});
