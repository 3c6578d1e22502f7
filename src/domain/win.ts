/**
 * Registering a win (`POST /v1/wins`): the win read, classified and given its counting rule, its
 * markup instrumented for its format, with Tally's notice URLs and what the caller should know.
 */
import type { Classification } from './classify.js';
import { classifyWin, isClassifyError } from './classify.js';
import { BASE64_SUFFIX, macroGrowthBound, substituteMacrosInMarkup } from './macros.js';
import type { MarkupLanguage } from './markup-escape.js';
import { asId } from './openrtb.js';
import { privacyMacroGrowthBound, privacyValuesOf, withPrivacyMacrosInUrls } from './privacy-macros.js';
import type { PriceKeys } from './price-crypto.js';
import type { CountingRule, RulesTable } from './rules.js';
import { isPastTtl } from './rules.js';
import type { KeyRing, NoticeClaims } from './token.js';
import { sealToken } from './token.js';
import type { NoticeKind } from './types.js';
import { encodedPrice, filledDspUrl, macroValues } from './dsp-macros.js';
import {
  BURL_IN_MARKUP_WARNING,
  burlWarnings,
  ignoresPublisherBurl,
  priceWarnings,
  publisherBurlWarnings,
} from './win-billing-warnings.js';
import { bidExpiryOf, lateWarnings, secureMarkupWarnings } from './win-counting-warnings.js';
import { numericIdWarnings, unreadAdIdWarnings } from './win-ids.js';
import {
  dspTextsOf,
  emptyMacroWarnings,
  encodedPriceWarnings,
  impressionTimeWarnings,
  unfilledMacroWarnings,
  unreadPrivacyWarnings,
} from './win-macro-warnings.js';
import { instrumentBannerMarkup } from './win-banner.js';
import type { InstrumentedMarkup, MarkupToInstrument } from './win-markup.js';
import { admText, admWarnings } from './win-markup.js';
import { instrumentNativeMarkup } from './win-native.js';
import type { ParsedWin } from './win-parse.js';
import { parseWin } from './win-parse.js';
import { instrumentVastMarkup } from './win-vast.js';

/** One auction win as the exchange sends it (`POST /v1/wins`); untrusted until validated. */
export interface WinInput {
  request?: unknown;
  seat?: unknown;
  bid?: unknown;
  clearingPrice?: unknown;
  /** `BidResponse.bidid`, for `${AUCTION_BID_ID}`. */
  bidResponseId?: unknown;
  currency?: unknown;
  auctionTimeMs?: unknown;
  publisherBurl?: unknown;
  test?: unknown;
}

/** What the exchange returns to the publisher for one win. */
export interface InstrumentedWin {
  ok: true;
  format: Classification['format'];
  channel: Classification['channel'];
  method: CountingRule['method'];
  ttlSeconds: number;
  /** The instrumented markup; `null` when the bid carried none that Tally could hold (a nurl-served banner). */
  adm: string | null;
  /** Tally's billing URL for the publisher to fire, where the publisher fires burl; else `null`. */
  burl: string | null;
  /** Every Tally URL handed out for this win, by notice kind. */
  noticeUrls: Partial<Record<NoticeKind, string>>;
  /** What the caller should know: markup left untouched, nothing to embed into, … */
  warnings: string[];
}

/** A win Tally refused, with a stable code and a message that says what to fix. */
export interface RejectedWin {
  ok: false;
  error: { code: string; message: string };
}

/** What registering a win needs beside the win itself. */
export interface WinEnvironment {
  /** The account registering the win. */
  accountId: number;
  /** Counting rules in force for a publisher id ('' when the request names none). */
  rulesFor(publisherId: string): RulesTable;
  keyRing: KeyRing;
  /** Base URL of Tally's notice endpoints, without a trailing slash. */
  publicUrl: string;
  /** An account's keys for a seat's `${AUCTION_PRICE:…}` encrypted price macros. */
  priceKeysFor(accountId: number, seat: string): PriceKeys | undefined;
  /**
   * Whether Tally's relay calls a DSP's burl on an IP address (`TALLY_BURL_PRIVATE_NETWORKS`'s
   * policy): a burl naming one it refuses is warned of.
   */
  allowsBurlAddress(address: string): boolean;
  nowMs: number;
}

/** The language of each format's markup, which says how macro values are escaped in it. */
const MARKUP_LANGUAGES: Readonly<Record<Classification['format'], MarkupLanguage>> = {
  banner: 'html',
  video: 'xml',
  audio: 'xml',
  native: 'json',
};

/** How each format's markup is instrumented. */
const MARKUP_INSTRUMENTERS: Readonly<
  Record<Classification['format'], (win: MarkupToInstrument) => InstrumentedMarkup>
> = {
  banner: instrumentBannerMarkup,
  video: instrumentVastMarkup,
  audio: instrumentVastMarkup,
  native: instrumentNativeMarkup,
};

/**
 * The longest notice URL Tally hands out. Its notice endpoint reads a request head of at most
 * 16 KiB, which the device's other headers (User-Agent, Referer, client hints) share, and common
 * proxies and CDNs refuse a request line over 8 KiB: a longer URL would never be counted.
 */
export const MAX_NOTICE_URL_CHARS = 8192;

/**
 * Most characters filling the macros of a win's markup may add to it (an upper bound of
 * `macroGrowthBound`): ids of thousands of characters in as many macros would otherwise build
 * markup of gigabytes.
 */
const MAX_MACRO_GROWTH_CHARS = 16 * 1024 * 1024;

/**
 * Validates, classifies and instruments one win. Never throws on bad input, but for a string
 * holding an unpaired surrogate, which the caller refuses first (see `unpairedSurrogate`):
 * percent-encoding one into the DSP's URLs throws a `URIError`.
 */
export function instrumentWin(input: WinInput, env: WinEnvironment): InstrumentedWin | RejectedWin {
  const read = parseWin(input, env.nowMs);
  if ('code' in read) return { ok: false, error: read };
  const classification = classifyWin(read.request, read.bid);
  if (isClassifyError(classification)) return { ok: false, error: classification };
  const { format, channel, omidSupported } = classification;
  // The request's privacy signals are filled into the DSP's URLs before anything else reads them
  // (unless a long consent string in a great many macros would make them gigabytes), and into its
  // markup with the auction macros.
  const privacy = privacyValuesOf(read.request);
  const privacyGrowthChars = privacyMacroGrowthBound(read.bid, privacy);
  if (privacyGrowthChars > MAX_MACRO_GROWTH_CHARS) return privacyMacrosTooLarge(privacyGrowthChars);
  const parsed = { ...read, bid: withPrivacyMacrosInUrls(read.bid, privacy) };
  // A burl of white space alone is none, as an empty one is.
  const dspBurl = typeof parsed.bid.burl === 'string' && parsed.bid.burl.trim() !== '' ? parsed.bid.burl : '';
  const burlIgnored = ignoresPublisherBurl(format, channel, dspBurl);
  const chosen = env.rulesFor(parsed.publisherId).choose(format, channel, {
    omidSupported,
    publisherBurl: parsed.publisherBurl && !burlIgnored,
  });
  const bidExpiry = bidExpiryOf(parsed.bid, chosen);
  const rule = bidExpiry.rule;
  const adm = admText(parsed.bid.adm);
  // App banners counted on Tally's own pixel carry the DSP's burl in their markup instead —
  // when there is markup to carry it; a nurl-served banner has Tally relay it. Only app banners:
  // Tally relays a web or CTV banner's burl once it counts. A win that can never count (a test
  // auction, one registered past its TTL) carries the burl nowhere: nothing may ever bill it.
  const neverCounts = parsed.test || isPastTtl(parsed.auctionTimeMs, rule.ttlSeconds, env.nowMs);
  const burlInMarkup =
    rule.method === 'adm' && channel === 'app' && dspBurl !== '' && !neverCounts && adm !== undefined;
  const base = noticeClaimsOf(
    parsed,
    env.accountId,
    classification,
    rule,
    burlInMarkup || neverCounts ? '' : dspBurl,
  );
  const noticeUrl = (kind: NoticeKind): string =>
    `${env.publicUrl}/n/${sealToken({ ...base, kind }, env.keyRing)}`;
  const priceFor = (suffix: string): string => encodedPrice(suffix, base, env, base.auctionTimeMs);
  const values = { ...macroValues(base), ...privacy };
  const fillMacros = (url: string): string => filledDspUrl(url, base, env, base.auctionTimeMs);
  // As the DSP wrote them: the request's values filled in are no macros of the DSP's.
  const dspTexts = dspTextsOf(read.bid, adm, (format === 'video' || format === 'audio') && adm === undefined);
  const encodedPriceChars = Math.max(priceFor('').length, priceFor(BASE64_SUFFIX).length);
  const growthChars = adm === undefined ? 0 : macroGrowthBound(adm, values, encodedPriceChars);
  if (growthChars > MAX_MACRO_GROWTH_CHARS) return markupMacrosTooLarge(growthChars);

  const warnings = [
    ...numericIdWarnings(input, read, classification.imp),
    ...unreadAdIdWarnings(parsed.bid),
    ...classification.warnings,
    ...secureMarkupWarnings(classification.imp, env.publicUrl),
    ...bidExpiry.warnings,
    ...(burlInMarkup ? [BURL_IN_MARKUP_WARNING] : []),
    ...lateWarnings(parsed, rule, env.nowMs),
    ...publisherBurlWarnings(parsed, rule, burlIgnored),
    ...priceWarnings(parsed),
    ...encodedPriceWarnings(parsed, dspTexts, env),
    ...burlWarnings(parsed.bid.burl, fillMacros(dspBurl), base.dspBurl !== '', rule.method, env),
    ...admWarnings(parsed.bid.adm, format),
    ...unfilledMacroWarnings(dspTexts),
    ...emptyMacroWarnings(parsed, dspTexts),
    ...unreadPrivacyWarnings(read.request, dspTexts),
    ...impressionTimeWarnings(dspTexts, burlInMarkup, parsed.test),
  ];
  // In the markup each value is escaped for where it stands, so that the markup stays valid.
  const markup =
    adm === undefined ? undefined : substituteMacrosInMarkup(adm, MARKUP_LANGUAGES[format], values, priceFor);
  const burl = rule.method === 'burl' ? noticeUrl('burl') : null;
  const instrumented = MARKUP_INSTRUMENTERS[format]({
    bid: parsed.bid,
    imp: classification.imp,
    adm,
    markup,
    method: rule.method,
    dspBurl,
    burlInMarkup,
    publicUrl: env.publicUrl,
    noticeUrl,
    fillMacros,
  });
  const noticeUrls = { ...(burl === null ? {} : { burl }), ...instrumented.noticeUrls };
  const longest = Math.max(
    instrumented.firedUrlChars ?? 0,
    ...Object.values(noticeUrls).map((url) => url.length),
  );
  if (longest > MAX_NOTICE_URL_CHARS) return noticeUrlTooLong(longest, base);
  return {
    ok: true,
    format,
    channel,
    method: rule.method,
    ttlSeconds: rule.ttlSeconds,
    adm: instrumented.adm,
    burl,
    noticeUrls,
    warnings: [...warnings, ...instrumented.warnings],
  };
}

/**
 * What each notice of the win carries, sealed into its URL: the win's ids, price and counting rule,
 * and `dspBurl`, the DSP's burl for Tally to relay once the impression counts ('' for none).
 */
function noticeClaimsOf(
  parsed: ParsedWin,
  accountId: number,
  { format, channel }: Classification,
  rule: CountingRule,
  dspBurl: string,
): NoticeClaims {
  return {
    kind: rule.method,
    accountId,
    auctionId: parsed.auctionId,
    impId: parsed.impId,
    bidId: parsed.bidId,
    seat: parsed.seat,
    adId: asId(parsed.bid.adid) ?? '',
    bidResponseId: parsed.bidResponseId,
    priceMicros: parsed.priceMicros,
    bidMicros: parsed.bidMicros ?? 0,
    currency: parsed.currency,
    format,
    channel,
    method: rule.method,
    ttlSeconds: rule.ttlSeconds,
    auctionTimeMs: parsed.auctionTimeMs,
    publisherId: parsed.publisherId,
    test: parsed.test,
    dspBurl,
  };
}

/**
 * A win whose request's consent strings, filled into the privacy macros of its burl and nurl, could
 * make them too long.
 */
function privacyMacrosTooLarge(growthChars: number): RejectedWin {
  return {
    ok: false,
    error: {
      code: 'MARKUP_TOO_LARGE',
      message: `the privacy macros of bid.burl and bid.nurl, filled with this request's consent strings, could add up to ${growthChars} characters to them, over the ${MAX_MACRO_GROWTH_CHARS} allowed: use fewer macros`,
    },
  };
}

/** A win whose ids, filled into the macros of its markup, could make it too long. */
function markupMacrosTooLarge(growthChars: number): RejectedWin {
  return {
    ok: false,
    error: {
      code: 'MARKUP_TOO_LARGE',
      message: `bid.adm's macros, filled with this win's ids, could add up to ${growthChars} characters to it, over the ${MAX_MACRO_GROWTH_CHARS} allowed: use fewer macros or shorter ids`,
    },
  };
}

/**
 * A win whose notice URLs would be too long to be read: they carry its ids, seat and (for Tally to
 * relay it) the DSP's burl, sealed.
 */
function noticeUrlTooLong(urlChars: number, claims: NoticeClaims): RejectedWin {
  const fields: [string, string][] = [
    ['bid.burl', claims.dspBurl],
    ['request.id', claims.auctionId],
    ['bid.impid', claims.impId],
    ['bid.id', claims.bidId],
    ['seat', claims.seat],
    ['bid.adid', claims.adId],
    ['bidResponseId', claims.bidResponseId],
    ['publisher id', claims.publisherId],
  ];
  const [name, value] = fields.reduce((longest, field) =>
    field[1].length > longest[1].length ? field : longest,
  );
  return {
    ok: false,
    error: {
      code: 'NOTICE_URL_TOO_LONG',
      message: `the win's notice URLs would be ${urlChars} characters, over the ${MAX_NOTICE_URL_CHARS} that can be read when they are fired; shorten ${name} (${value.length} characters)`,
    },
  };
}
