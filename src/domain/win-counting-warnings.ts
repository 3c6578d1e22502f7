/**
 * What keeps a registered win's notices from counting as its counting rule says: a `bid.exp`
 * shorter than its TTL, which cuts it; a win registered past its TTL; http notice URLs where the
 * imp requires https. Pure.
 */
import type { OrtbBid, OrtbImp } from './openrtb.js';
import type { CountingRule } from './rules.js';
import { isPastTtl } from './rules.js';
import { shown } from '../lib/shown.js';
import type { ParsedWin } from './win-parse.js';

/**
 * The rule with its TTL cut to `bid.exp`, the seconds the bidder waits from the auction to the
 * impression, where that is shorter: the DSP pays for no impression after it, so Tally counts
 * none (as Index does). A `bid.exp` that is not a positive number of seconds is ignored, saying so.
 */
export function bidExpiryOf(bid: OrtbBid, rule: CountingRule): { rule: CountingRule; warnings: string[] } {
  const { exp } = bid;
  if (exp === undefined || exp === null) return { rule, warnings: [] };
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= 0) {
    return {
      rule,
      warnings: [
        `bid.exp ${shown(exp)} is not a positive number of seconds: ignored, the win keeps the ${rule.ttlSeconds} s TTL of its counting rule`,
      ],
    };
  }
  // Whole seconds, as TTLs are: under one second is one.
  const expSeconds = Math.max(1, Math.floor(exp));
  if (expSeconds >= rule.ttlSeconds) return { rule, warnings: [] };
  return {
    rule: { ...rule, ttlSeconds: expSeconds },
    warnings: [
      `bid.exp is ${expSeconds} s, shorter than the ${rule.ttlSeconds} s TTL of its counting rule: the DSP pays for no impression after it, so the win's notices count for ${expSeconds} s`,
    ],
  };
}

/** The warning for a win registered after its TTL: every notice of it will be `late`. */
export function lateWarnings(parsed: ParsedWin, rule: CountingRule, nowMs: number): string[] {
  if (!isPastTtl(parsed.auctionTimeMs, rule.ttlSeconds, nowMs)) return [];
  const ageMs = nowMs - parsed.auctionTimeMs;
  return [
    `the auction was ${ageMs / 1000} s ago, past the ${rule.ttlSeconds} s TTL of this win: none of its notices can count`,
  ];
}

/**
 * An imp requiring secure markup (`imp.secure` 1, OpenRTB 2.6) while Tally hands out `http://`
 * notice URLs: the HTTPS page blocks them or asks for them over https, an app's transport security
 * refuses them, and the impression may never count.
 */
export function secureMarkupWarnings(imp: OrtbImp, publicUrl: string): string[] {
  if (imp.secure !== 1 || !/^http:/i.test(publicUrl)) return [];
  return [
    `imp.secure is 1 (the impression requires HTTPS markup) but Tally's notice URLs are http (TALLY_PUBLIC_URL ${publicUrl}): the page or app may refuse them, and then the impression never counts; serve Tally over https`,
  ];
}
