/** Every reason a notice or tracker hit may not count. */
export const NOT_COUNTED_REASONS = [
  'late',
  'duplicate',
  'invalid_traffic',
  'prefetch',
  'preview',
  'not_billing_method',
  'invalid_token',
  'unknown_tracker',
  'inactive_tracker',
] as const;

/** Why a notice or tracker hit did not count. */
export type NotCountedReason = (typeof NOT_COUNTED_REASONS)[number];

/** The invalid-traffic rule that matched (general IVT, per MRC). */
export type IvtRule =
  'head_request' | 'empty_user_agent' | 'bot_user_agent' | 'blocked_user_agent' | 'blocked_ip';

/** The decision on one notice or hit: counted, or not counted with exactly one reason. */
export type Outcome =
  | { outcome: 'counted' }
  | { outcome: 'not_counted'; reason: Exclude<NotCountedReason, 'invalid_traffic'> }
  | { outcome: 'not_counted'; reason: 'invalid_traffic'; rule: IvtRule };

export const COUNTED: Outcome = Object.freeze({ outcome: 'counted' });

/** A `not_counted` outcome for any reason but invalid traffic (which needs its rule). */
export function notCounted(reason: Exclude<NotCountedReason, 'invalid_traffic'>): Outcome {
  return { outcome: 'not_counted', reason };
}

/** A `not_counted` outcome for invalid traffic, naming the rule that matched. */
export function invalidTraffic(rule: IvtRule): Outcome {
  return { outcome: 'not_counted', reason: 'invalid_traffic', rule };
}
