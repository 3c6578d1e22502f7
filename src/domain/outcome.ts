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
  'inactive_line_item',
  'inactive_tracker',
  'no_landing_page',
] as const;

/** Why a notice or tracker hit did not count. */
export type NotCountedReason = (typeof NOT_COUNTED_REASONS)[number];

/** Every invalid-traffic rule (general IVT, per MRC). */
export const IVT_RULES = [
  'head_request',
  'empty_user_agent',
  'long_user_agent',
  'bot_user_agent',
  'blocked_user_agent',
  'blocked_ip',
] as const;

/** The invalid-traffic rule that matched. */
export type IvtRule = (typeof IVT_RULES)[number];

/**
 * The decision on one notice or hit: counted, or not counted with exactly one reason. A
 * `duplicate` may say that the impression's count sent the publisher on to the DSP's burl (see
 * `duplicateOfRedirect`).
 */
export type Outcome =
  | { outcome: 'counted' }
  | { outcome: 'not_counted'; reason: Exclude<NotCountedReason, 'invalid_traffic'> }
  | {
      outcome: 'not_counted';
      reason: 'duplicate';
      redirectedToDsp: true;
      impressionMs: number;
      /** The URL the count's 302 named, as the ledger kept it; absent where it kept none. */
      location?: string;
    }
  | { outcome: 'not_counted'; reason: 'invalid_traffic'; rule: IvtRule };

/** The `counted` outcome, one frozen object shared by every counted event. */
export const COUNTED: Outcome = Object.freeze({ outcome: 'counted' });

/**
 * A `duplicate` of an impression that a notice of the publisher's burl counted and answered with
 * a 302 to the DSP's burl (kept as a `redirected` delivery, none queued). A repeat of that notice
 * (the publisher retrying because the redirect, or the DSP behind it, failed, or the same win
 * registered again after its claim) is sent on to the DSP's burl again, so that the DSP's burl is
 * delivered at least once, as OpenRTB's burl retries expect; the impression still counts once.
 * (Where the account's allow-list no longer admits the DSP's host, the repeat is a plain
 * `duplicate` instead, and the kept delivery is queued: see `LedgerBatches.repeatOutcome`.)
 * `impressionMs` is when the notice that counted was received: the impression's time
 * (`${AUCTION_IMP_TS}`), the same in every repeat. `location` is the URL the count's 302 named (its
 * kept delivery's), where the repeat is sent whichever registration of the win its token is of:
 * another one may carry another price or DSP burl, which that count did not bill. A count recorded
 * before Tally kept its delivery has none: the repeat's own token fills the burl again.
 */
export function duplicateOfRedirect(impressionMs: number, location?: string): Outcome {
  const outcome = {
    outcome: 'not_counted',
    reason: 'duplicate',
    redirectedToDsp: true,
    impressionMs,
  } as const;
  return location === undefined ? outcome : { ...outcome, location };
}

/** A `not_counted` outcome for any reason but invalid traffic (which needs its rule). */
export function notCounted(reason: Exclude<NotCountedReason, 'invalid_traffic'>): Outcome {
  return { outcome: 'not_counted', reason };
}

/** A `not_counted` outcome for invalid traffic, naming the rule that matched. */
export function invalidTraffic(rule: IvtRule): Outcome {
  return { outcome: 'not_counted', reason: 'invalid_traffic', rule };
}
