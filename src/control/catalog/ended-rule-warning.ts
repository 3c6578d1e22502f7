/**
 * The warning a payment rule's write answers with when the rule, as written, has already ended:
 * its `endDate` (a UTC day, through its 24:00) is before today, so it prices no hit, and nothing
 * else in the answer says so.
 */
import { ruleEndMs } from '../../catalog-tables.js';
import type { PaymentRule } from '../../ports/catalog.js';

/** The code of the warning (see {@link endedRuleWarnings}). */
export const ENDED_RULE_WARNING_CODE = 'rule_ended';

/**
 * `rule_ended` for `rule` when its `endDate` has passed at `nowMs` (its day over, UTC), naming
 * the day and how to put the rule in effect; none otherwise (no end date, or one still to come).
 */
export function endedRuleWarnings(
  rule: Pick<PaymentRule, 'id' | 'endDate' | 'state' | 'isBase'>,
  nowMs: number,
): { code: typeof ENDED_RULE_WARNING_CODE; message: string }[] {
  if (rule.endDate === null || nowMs < ruleEndMs(rule.endDate)) return [];
  const today = new Date(nowMs).toISOString().slice(0, 10);
  // An inactive conditional rule prices nothing either: the change that puts it in effect says so.
  const inactive = rule.state === 'inactive' && !rule.isBase;
  const change = inactive ? `{"endDate": "${today}", "state": "active"}` : `{"endDate": "${today}"}`;
  return [
    {
      code: ENDED_RULE_WARNING_CODE,
      message: `payment rule ${rule.id} ended with ${rule.endDate} (its endDate, through 24:00 UTC), before today, ${today}, so it prices no hit: move its endDate to today or later${inactive ? ' and activate it' : ''} (PATCH /v1/payment-rules/${rule.id} ${change}), or send null for no end`,
    },
  ];
}
