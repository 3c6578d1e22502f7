import type { Channel, Format, Method } from './types.js';

/** One row of the counting rules: the billing notification that counts, and how long after the auction. */
export interface CountingRule {
  format: Format;
  channel: Channel;
  method: Method;
  ttlSeconds: number;
}

/** What the publisher's side can do for one impression; decides which method counts. */
interface Capabilities {
  /** The app offers OMID (`api` contains 7 on the imp's media object). */
  omidSupported: boolean;
  /** The publisher fires the billing URL (`burl`) from its SDK or server. */
  publisherBurl: boolean;
}

const TEN_MINUTES = 600;
const FIVE_MINUTES = 300;
const ONE_HOUR = 3600;
const THREE_HOURS = 3 * ONE_HOUR;

/**
 * The default rules, exactly as the seeds give them (Index Exchange, "How Index counts
 * impressions"). Audio follows the video rules. `burl` rows cover every format: a publisher
 * with burl enabled bills through it (client- or server-side beaconing, e.g. SSAI), 3 h.
 */
export const DEFAULT_RULES: readonly CountingRule[] = [
  { format: 'banner', channel: 'web', method: 'adm', ttlSeconds: TEN_MINUTES },
  { format: 'banner', channel: 'app', method: 'omid', ttlSeconds: THREE_HOURS },
  { format: 'banner', channel: 'app', method: 'burl', ttlSeconds: THREE_HOURS },
  { format: 'banner', channel: 'app', method: 'adm', ttlSeconds: TEN_MINUTES },
  { format: 'banner', channel: 'ctv', method: 'adm', ttlSeconds: TEN_MINUTES },
  { format: 'video', channel: 'web', method: 'vast', ttlSeconds: ONE_HOUR },
  { format: 'video', channel: 'app', method: 'vast', ttlSeconds: THREE_HOURS },
  { format: 'video', channel: 'ctv', method: 'vast', ttlSeconds: THREE_HOURS },
  { format: 'audio', channel: 'web', method: 'vast', ttlSeconds: ONE_HOUR },
  { format: 'audio', channel: 'app', method: 'vast', ttlSeconds: THREE_HOURS },
  { format: 'audio', channel: 'ctv', method: 'vast', ttlSeconds: THREE_HOURS },
  { format: 'native', channel: 'web', method: 'native', ttlSeconds: FIVE_MINUTES },
  { format: 'native', channel: 'app', method: 'native', ttlSeconds: FIVE_MINUTES },
  { format: 'native', channel: 'ctv', method: 'native', ttlSeconds: FIVE_MINUTES },
  ...(['banner', 'video', 'audio', 'native'] as const).flatMap((format) =>
    (['web', 'app', 'ctv'] as const)
      .filter((channel) => !(format === 'banner' && channel === 'app'))
      .map((channel) => ({ format, channel, method: 'burl' as const, ttlSeconds: THREE_HOURS })),
  ),
];

/**
 * A TTL override: replaces the TTL of the rule with the same format, channel and method, or adds
 * that rule where the defaults have none (`omid` for a web or CTV banner).
 */
export type RuleOverride = CountingRule;

/**
 * The longest a notice may count after its auction under the default rules and `overrides`
 * (every publisher's), in seconds: how far past an hour its impressions' counts can reach.
 */
export function longestTtlSeconds(overrides: Iterable<readonly RuleOverride[]>): number {
  let longest = Math.max(...DEFAULT_RULES.map((rule) => rule.ttlSeconds));
  for (const rules of overrides) for (const rule of rules) longest = Math.max(longest, rule.ttlSeconds);
  return longest;
}

/** The counting rules in force: defaults plus overrides (later per publisher). */
export class RulesTable {
  private readonly ttlByKey = new Map<string, number>();

  constructor(overrides: readonly RuleOverride[] = []) {
    for (const rule of [...DEFAULT_RULES, ...overrides])
      this.ttlByKey.set(key(rule.format, rule.channel, rule.method), rule.ttlSeconds);
  }

  /** TTL of a (format, channel, method), or `undefined` when that method never bills for it. */
  ttlSeconds(format: Format, channel: Channel, method: Method): number | undefined {
    return this.ttlByKey.get(key(format, channel, method));
  }

  /**
   * The one method that counts for an impression, with its TTL. Precedence: OMID (app
   * banner with OMID), then the publisher's burl, then the format's own notification
   * (`adm` pixel, VAST `<Impression>`, native trackers).
   */
  choose(format: Format, channel: Channel, capabilities: Capabilities): CountingRule {
    const candidates: Method[] = [];
    if (capabilities.omidSupported) candidates.push('omid');
    if (capabilities.publisherBurl) candidates.push('burl');
    candidates.push(nativeMethod(format));
    for (const method of candidates) {
      const ttlSeconds = this.ttlSeconds(format, channel, method);
      if (ttlSeconds !== undefined) return { format, channel, method, ttlSeconds };
    }
    // Unreached: DEFAULT_RULES give every format and channel a row for its own notification, and
    // overrides change or add rows, never remove one. Had a row gone, the format's own
    // notification would still count, with the web banner TTL.
    return { format, channel, method: nativeMethod(format), ttlSeconds: TEN_MINUTES };
  }
}

/**
 * The rules table for each publisher id: the `'*'` overrides for every publisher, plus a
 * publisher's own overrides on top where it has some.
 */
export function rulesByPublisher(
  overrides: ReadonlyMap<string, readonly RuleOverride[]>,
): (publisherId: string) => RulesTable {
  const everyone = overrides.get('*') ?? [];
  const shared = new RulesTable(everyone);
  const own = new Map<string, RulesTable>();
  for (const [publisherId, publisherOverrides] of overrides) {
    if (publisherId !== '*') own.set(publisherId, new RulesTable([...everyone, ...publisherOverrides]));
  }
  return (publisherId) => own.get(publisherId) ?? shared;
}

/**
 * Whether Tally can instrument `method` for an impression of `format` on any channel: the format's
 * own notification, the publisher's burl, or OMID for a banner. A rule giving a format any other
 * method would make its wins uncountable.
 */
export function canInstrument(format: Format, method: Method): boolean {
  return method === nativeMethod(format) || method === 'burl' || (method === 'omid' && format === 'banner');
}

/** The notification a format carries in its own markup. */
export function nativeMethod(format: Format): Method {
  switch (format) {
    case 'banner':
      return 'adm';
    case 'video':
    case 'audio':
      return 'vast';
    case 'native':
      return 'native';
  }
}

function key(format: Format, channel: Channel, method: Method): string {
  return `${format}/${channel}/${method}`;
}

/**
 * Whether a notice at `nowMs` of an auction held at `auctionTimeMs` comes after its TTL, and so is
 * late: one exactly at the TTL still counts.
 */
export function isPastTtl(auctionTimeMs: number, ttlSeconds: number, nowMs: number): boolean {
  return nowMs - auctionTimeMs > ttlSeconds * 1000;
}
