import { contentSecurityPolicyWarnings } from './banner-csp.js';
import { bannerShapeWarnings } from './banner-shape.js';
import { framesetWarnings } from './banner-frameset.js';
import {
  ampPixelTag,
  appendToHtml,
  isAmpHtmlAd,
  omidScriptTag,
  pixelTag,
  withoutAmpVariableNames,
} from './banner.js';
import { burlRefusal } from './burl-refusal.js';
import type { Classification } from './classify.js';
import { classifyWin, isClassifyError } from './classify.js';
import {
  BASE64_SUFFIX,
  formatMicros,
  substituteMacrosInMarkup,
  macroGrowthBound,
  unfilledMacros,
  usesEncryptedPrice,
} from './macros.js';
import type { MarkupLanguage } from './markup-escape.js';
import type { ImpressionTrackerOffer } from './native.js';
import {
  instrumentNative,
  nativeImpressionTrackerOffer,
  unreadableNativeRequest,
  unusableImpressionOffer,
} from './native.js';
import { asId, asObject } from './openrtb.js';
import type { OrtbBid, OrtbBidRequest, OrtbImp } from './openrtb.js';
import {
  privacyMacroGrowthBound,
  privacyValuesOf,
  unreadPrivacySignals,
  withPrivacyMacrosInUrls,
} from './privacy-macros.js';
import type { PriceKeys } from './price-crypto.js';
import type { CountingRule, RulesTable } from './rules.js';
import { isPastTtl } from './rules.js';
import type { KeyRing, NoticeClaims } from './token.js';
import { sealToken } from './token.js';
import { cutAt, jsonKind, shown } from '../lib/shown.js';
import type { Channel, Format, Method, NoticeKind } from './types.js';
import { instrumentVast, wrapNurlInVast } from './vast.js';
import type { ParsedWin } from './win-parse.js';
import { parseWin } from './win-parse.js';
import { numericIdWarnings, unreadAdIdWarnings } from './win-ids.js';
import { AUDIT, encodedPrice, filledDspUrl, macroValues } from './dsp-macros.js';

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

const ERRORCODE_MACRO = '[ERRORCODE]';

/** The language of each format's markup, which says how macro values are escaped in it. */
const MARKUP_LANGUAGES: Readonly<Record<Classification['format'], MarkupLanguage>> = {
  banner: 'html',
  video: 'xml',
  audio: 'xml',
  native: 'json',
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

/** What the exchange is told to add to a native response it serves without Tally's notice, by offer. */
const NATIVE_TRACKER_TO_ADD: Readonly<Record<ImpressionTrackerOffer, string>> = {
  none: 'add noticeUrls.native to the native response it serves',
  image:
    'add noticeUrls.native to the native response it serves, as an event tracker {"event": 1, "method": 1}',
  script:
    'add noticeUrls.native with ?f=b after it (its notice then answers 204, not an image) to the native response it serves, as an event tracker {"event": 1, "method": 2}',
};

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
  if (privacyGrowthChars > MAX_MACRO_GROWTH_CHARS) {
    return {
      ok: false,
      error: {
        code: 'MARKUP_TOO_LARGE',
        message: `the privacy macros of bid.burl and bid.nurl, filled with this request's consent strings, could add up to ${privacyGrowthChars} characters to them, over the ${MAX_MACRO_GROWTH_CHARS} allowed: use fewer macros`,
      },
    };
  }
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
  const base: NoticeClaims = {
    kind: rule.method,
    accountId: env.accountId,
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
    dspBurl: burlInMarkup || neverCounts ? '' : dspBurl,
  };
  const noticeUrl = (kind: NoticeKind): string =>
    `${env.publicUrl}/n/${sealToken({ ...base, kind }, env.keyRing)}`;
  const priceFor = (suffix: string): string => encodedPrice(suffix, base, env, base.auctionTimeMs);
  const values = { ...macroValues(base), ...privacy };
  const fillMacros = (url: string): string => filledDspUrl(url, base, env, base.auctionTimeMs);
  // As the DSP wrote them: the request's values filled in are no macros of the DSP's.
  const dspTexts = dspTextsOf(read.bid, adm, (format === 'video' || format === 'audio') && adm === undefined);
  const encodedPriceChars = Math.max(priceFor('').length, priceFor(BASE64_SUFFIX).length);
  const growthChars = adm === undefined ? 0 : macroGrowthBound(adm, values, encodedPriceChars);
  if (growthChars > MAX_MACRO_GROWTH_CHARS) {
    return {
      ok: false,
      error: {
        code: 'MARKUP_TOO_LARGE',
        message: `bid.adm's macros, filled with this win's ids, could add up to ${growthChars} characters to it, over the ${MAX_MACRO_GROWTH_CHARS} allowed: use fewer macros or shorter ids`,
      },
    };
  }

  const result: InstrumentedWin = {
    ok: true,
    format,
    channel,
    method: rule.method,
    ttlSeconds: rule.ttlSeconds,
    adm: null,
    burl: null,
    noticeUrls: {},
    warnings: [
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
    ],
  };
  // In the markup each value is escaped for where it stands, so that the markup stays valid.
  const markup =
    adm === undefined ? undefined : substituteMacrosInMarkup(adm, MARKUP_LANGUAGES[format], values, priceFor);
  if (rule.method === 'burl') {
    result.burl = result.noticeUrls.burl = noticeUrl('burl');
  }
  /** The longest of the notice URLs as the markup fires them, where that differs from `noticeUrls`. */
  let firedUrlChars = 0;
  switch (format) {
    case 'banner': {
      // AMP4ADS allows no <img>: the AMP runtime fires an <amp-pixel> instead.
      const amp = markup !== undefined && isAmpHtmlAd(markup);
      const tallyPixel = (url: string): string => {
        if (!amp) return pixelTag(url);
        const fired = withoutAmpVariableNames(url);
        firedUrlChars = Math.max(firedUrlChars, fired.length);
        return ampPixelTag(fired);
      };
      const tags: string[] = [];
      const omidScriptUrl = `${env.publicUrl}/omid/verify.js`;
      if (rule.method === 'omid') {
        result.noticeUrls.omid = noticeUrl('omid');
        tags.push(omidScriptTag(omidScriptUrl, result.noticeUrls.omid));
      } else if (rule.method === 'burl') {
        result.noticeUrls.loaded = noticeUrl('loaded');
        tags.push(tallyPixel(result.noticeUrls.loaded));
      } else {
        result.noticeUrls.adm = noticeUrl('adm');
        tags.push(tallyPixel(result.noticeUrls.adm));
        if (burlInMarkup) tags.push((amp ? ampPixelTag : pixelTag)(fillMacros(dspBurl)));
      }
      if (adm !== undefined) {
        const tallyTag = rule.method === 'omid' ? 'script' : 'image';
        // The URL Tally's tag loads, which the markup's policy must admit.
        const tallyTagUrl =
          rule.method === 'omid'
            ? omidScriptUrl
            : (result.noticeUrls.adm ?? result.noticeUrls.loaded ?? env.publicUrl);
        result.warnings.push(
          ...bannerShapeWarnings(adm),
          ...framesetWarnings(adm),
          ...contentSecurityPolicyWarnings(adm, tallyTag, tallyTagUrl),
        );
      }
      if (amp) {
        const markupBurl = burlInMarkup ? fillMacros(dspBurl) : undefined;
        result.warnings.push(...ampWarnings(rule.method, env.publicUrl, markupBurl));
      }
      if (markup === undefined) {
        // The tags themselves: noticeUrls also holds a publisher burl, which counts wherever it is
        // fired, and an OMID notice belongs in Tally's script, not in a pixel.
        const ignored = notMarkup(parsed.bid.adm);
        const why =
          typeof parsed.bid.nurl === 'string' && parsed.bid.nurl.trim() !== ''
            ? `${ignored ?? 'the bid has no adm (markup served on the win notice)'}: add these tags to the markup the nurl returns`
            : `${ignored === undefined ? 'the bid has neither adm nor nurl' : `${ignored}, and the bid has no nurl`}: add these tags to the markup wherever the ad is served`;
        result.warnings.push(`${why}: ${tags.join('')}`);
      } else {
        result.adm = appendToHtml(markup, tags);
      }
      break;
    }
    case 'video':
    case 'audio': {
      result.noticeUrls.vast = noticeUrl('vast');
      result.noticeUrls.vast_error = `${noticeUrl('vast_error')}?e=${ERRORCODE_MACRO}`;
      const trackers = { impressionUrl: result.noticeUrls.vast, errorUrl: result.noticeUrls.vast_error };
      const nurl = typeof parsed.bid.nurl === 'string' ? parsed.bid.nurl : '';
      const tagUrl = adm === undefined ? undefined : vastTagUrlOf(adm);
      if (tagUrl !== undefined) {
        // A VAST tag URL sent as the markup, as some DSPs send it (Prebid's adapters read an adm
        // starting with http as one): served as a player would load it, through a wrapper.
        result.adm = wrapNurlInVast(fillMacros(tagUrl), trackers);
        result.warnings.push(VAST_TAG_URL_ADM_WARNING);
      } else if (markup !== undefined) {
        const vast = instrumentVast(markup, trackers);
        result.adm = vast.markup;
        if (vast.ok) result.warnings.push(...vast.warnings);
        else if (vast.noAd) result.warnings.push(`${vast.warning}; the markup is served as it came`);
        else result.warnings.push(servedUntouched(vast.warning, rule.method, 'vast'));
      } else if (nurl !== '') {
        result.adm = wrapNurlInVast(fillMacros(nurl), trackers);
        result.warnings.push(...wrappedNurlWarnings(parsed.bid.adm, nurl));
      } else {
        const ignored = notMarkup(parsed.bid.adm);
        result.warnings.push(
          ignored === undefined
            ? 'the bid has neither adm nor nurl: there is no VAST to instrument'
            : `${ignored}, and the bid has no nurl: there is no VAST to instrument`,
        );
      }
      break;
    }
    case 'native': {
      result.noticeUrls.native = noticeUrl('native');
      const request = classification.imp.native?.request;
      const offer = nativeImpressionTrackerOffer(request);
      if (markup === undefined) {
        const why = notMarkup(parsed.bid.adm) ?? 'the bid has no adm';
        result.warnings.push(`${why}: ${NATIVE_TRACKER_TO_ADD[offer]}`);
        break;
      }
      const native = instrumentNative(markup, result.noticeUrls.native, offer);
      result.adm = native.markup;
      if (native.ok) {
        // Why the notice went into imptrackers although the request has event trackers.
        const unusable = unreadableNativeRequest(request) ?? unusableImpressionOffer(request);
        result.warnings.push(...(unusable === undefined ? [] : [unusable]), ...native.warnings);
      } else result.warnings.push(servedUntouched(native.warning, rule.method, 'native'));
      break;
    }
  }
  const longest = Math.max(firedUrlChars, ...Object.values(result.noticeUrls).map((url) => url.length));
  if (longest > MAX_NOTICE_URL_CHARS) return noticeUrlTooLong(longest, base);
  return result;
}

/**
 * What may keep an AMPHTML ad from counting: Tally's OMID script, which makes it invalid AMP, or an
 * `<amp-pixel>` at an http URL (Tally's, with an http `publicUrl`, or the DSP's `markupBurl`), which
 * the AMP runtime never fires.
 */
function ampWarnings(method: Method, publicUrl: string, markupBurl: string | undefined): string[] {
  const ad = 'bid.adm is an AMPHTML ad (<html ⚡4ads>)';
  if (method === 'omid') {
    return [
      `${ad}, which may hold no script but the AMP runtime's: Tally's OMID verification script, added all the same, makes it invalid AMP, which AMP validators refuse; to serve it valid, serve it as it came and have the app load ${publicUrl}/omid/verify.js as an OMID verification resource, noticeUrls.omid its verificationParameters`,
    ];
  }
  const httpOnly = `${ad}, whose runtime fires an <amp-pixel> at an https URL only`;
  const isHttps = (url: string) => /^https:/i.test(url);
  return [
    ...(isHttps(publicUrl)
      ? []
      : [
          `${httpOnly}: Tally's notice URL (TALLY_PUBLIC_URL) is http, so it is never fired and the impression cannot count`,
        ]),
    ...(markupBurl === undefined || isHttps(markupBurl)
      ? []
      : [`${httpOnly}: the DSP's burl is http, so it is never fired and the DSP never billed`]),
  ];
}

/**
 * The warning for markup Tally could not instrument, which is served as it came: why, and, when the
 * impression counts on the markup's own notice (`method`), that it cannot count unless that notice
 * URL is fired some other way.
 */
function servedUntouched(why: string, method: Method, notice: 'vast' | 'native'): string {
  if (method !== notice) return `${why}: the markup is served as it came`;
  const place =
    notice === 'vast'
      ? 'as an <Impression> of the VAST the player reads'
      : 'as an impression tracker of the native response';
  return `${why}: the markup is served as it came, without Tally's notice, so this impression cannot count unless noticeUrls.${notice} is fired ${place}`;
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

/**
 * The rule with its TTL cut to `bid.exp`, the seconds the bidder waits from the auction to the
 * impression, where that is shorter: the DSP pays for no impression after it, so Tally counts
 * none (as Index does). A `bid.exp` that is not a positive number of seconds is ignored, saying so.
 */
function bidExpiryOf(bid: OrtbBid, rule: CountingRule): { rule: CountingRule; warnings: string[] } {
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

/**
 * An imp requiring secure markup (`imp.secure` 1, OpenRTB 2.6) while Tally hands out `http://`
 * notice URLs: the HTTPS page blocks them or asks for them over https, an app's transport security
 * refuses them, and the impression may never count.
 */
function secureMarkupWarnings(imp: OrtbImp, publicUrl: string): string[] {
  if (imp.secure !== 1 || !/^http:/i.test(publicUrl)) return [];
  return [
    `imp.secure is 1 (the impression requires HTTPS markup) but Tally's notice URLs are http (TALLY_PUBLIC_URL ${publicUrl}): the page or app may refuse them, and then the impression never counts; serve Tally over https`,
  ];
}

/**
 * The warning for an app banner whose markup carries the DSP's burl: the device fires it, not
 * Tally, and on every render.
 */
const BURL_IN_MARKUP_WARNING =
  "the DSP's burl goes into this app banner's markup beside Tally's pixel (the app offers no OMID, api 7, and publisherBurl is not set): the device fires it on every render, so the DSP may be billed for renders Tally does not count (repeats, invalid traffic, late ones); offer OMID or set publisherBurl to have Tally call it once per counted impression";

/** The warning for a win registered after its TTL: every notice of it will be `late`. */
function lateWarnings(parsed: ParsedWin, rule: CountingRule, nowMs: number): string[] {
  if (!isPastTtl(parsed.auctionTimeMs, rule.ttlSeconds, nowMs)) return [];
  const ageMs = nowMs - parsed.auctionTimeMs;
  return [
    `the auction was ${ageMs / 1000} s ago, past the ${rule.ttlSeconds} s TTL of this win: none of its notices can count`,
  ];
}

/**
 * Whether the publisher's burl, if asked for, must not count: an app banner whose bid has no burl
 * counts on OMID or on its markup, as Index counts it ("If you do not use burl, Index assumes that
 * your impression tracking URL is in the adm … we will not use burl for impression counting"), so
 * that it counts when the DSP's own tracker in the markup does, not when the publisher's SDK fires.
 */
function ignoresPublisherBurl(format: Format, channel: Channel, dspBurl: string): boolean {
  return format === 'banner' && channel === 'app' && dspBurl === '';
}

/** `publisherBurl` asked for and not what counts: the publisher must not be told to fire a burl. */
function publisherBurlWarnings(parsed: ParsedWin, rule: CountingRule, burlIgnored: boolean): string[] {
  if (!parsed.publisherBurl || rule.method === 'burl') return [];
  const why =
    rule.method === 'omid'
      ? 'the app supports OMID (api 7), which comes first'
      : burlIgnored
        ? "the bid has no burl: an app banner without one counts where the DSP's own tracker does, on its markup (as Index counts it)"
        : `the counting rules have no publisher burl for ${rule.format} on ${rule.channel}`;
  return [
    `publisherBurl is set but this win counts on its ${rule.method} notice, as ${why}: there is no Tally burl for the publisher to fire`,
  ];
}

/**
 * The ISO 4217 currencies of Node's own ICU data: a code shaped as one but not among them (`UDS`)
 * is most likely misspelt, and is warned of rather than refused, as a currency newer than the ICU
 * data would be too.
 */
const KNOWN_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

/**
 * What is odd about the price a win bills, though it may be right: more decimals than a micro (it
 * is rounded), a clearing price above the bid (the DSP is billed more than it bid), a currency no
 * ISO 4217 code Tally knows (misspelt), a currency the request did not allow.
 */
function priceWarnings(parsed: ParsedWin): string[] {
  const warnings: string[] = [];
  const { value, field } = parsed.priceSent;
  // Tally bills in micros: a price with more decimals is rounded to the nearest (a price above 0
  // rounded to 0 is, however far below EPSILON it is).
  const roundedToZero = value > 0 && parsed.priceMicros === 0;
  if (
    roundedToZero ||
    Math.abs(value - parsed.priceMicros / 1_000_000) > Number.EPSILON * Math.max(1, value)
  ) {
    warnings.push(
      `${field} ${String(value)} has more than 6 decimals: it is billed, and filled into the DSP's macros, as ${formatMicros(parsed.priceMicros)}`,
    );
  }
  if (parsed.bidMicros !== undefined && parsed.priceMicros > parsed.bidMicros) {
    warnings.push(
      `clearingPrice ${formatMicros(parsed.priceMicros)} is above bid.price ${formatMicros(parsed.bidMicros)}: the DSP is billed more than it bid`,
    );
  }
  // OpenRTB's cur is an array; a lone string is read as one currency rather than ignored.
  const cur: unknown = parsed.request.cur;
  const listed = Array.isArray(cur) ? (cur as unknown[]) : [cur];
  const allowed = listed.filter(
    (code): code is string => typeof code === 'string' && /^[A-Z]{3}$/.test(code),
  );
  if (!KNOWN_CURRENCIES.has(parsed.currency)) {
    warnings.push(
      `currency ${JSON.stringify(parsed.currency)} is no ISO 4217 currency Tally knows: the win is billed in ${parsed.currency}, reported apart from every other currency; check the code`,
    );
  }
  if (allowed.length > 0 && !allowed.includes(parsed.currency)) {
    const fix = parsed.currencySent ? 'check currency' : 'send currency (USD when absent)';
    warnings.push(
      `the win is billed in ${parsed.currency} but request.cur allows only ${allowed.join(', ')}: ${fix}`,
    );
  }
  return warnings;
}

/** Most characters of a DSP's URL that a warning about it quotes. */
const MAX_QUOTED_URL_CHARS = 100;

/**
 * A DSP burl that can never bill the DSP, as the relay judges it (`burlRefusal`, on the burl with
 * this win's macros `filled`): one that is not a string or not a valid absolute http(s) URL, which
 * no one can call; and, where Tally relays it (`relayed`: not a burl in the markup, which the device
 * fires, nor one of a win that can never count), one naming an IP address the relay refuses. A host
 * name is looked up only when the burl is called.
 */
function burlWarnings(
  sent: unknown,
  filled: string,
  relayed: boolean,
  method: Method,
  env: Pick<WinEnvironment, 'allowsBurlAddress'>,
): string[] {
  if (sent === undefined || sent === null || (typeof sent === 'string' && sent.trim() === '')) return [];
  if (typeof sent !== 'string') {
    return [
      `bid.burl is not a string but ${shown(sent)}: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ];
  }
  const refusal = burlRefusal(filled, (address) => env.allowsBurlAddress(address));
  if (refusal === undefined) return [];
  const burl = `bid.burl ${JSON.stringify(cutAt(sent, MAX_QUOTED_URL_CHARS))}`;
  if (refusal.kind === 'port_zero') {
    return [
      `${burl} names port 0, which no server listens on: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ];
  }
  if (refusal.kind !== 'address') {
    return [
      `${burl} is not a valid absolute http(s) URL: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ];
  }
  if (!relayed) return [];
  // A counted publisher burl may be answered with a 302 to it instead, which the relay does not call.
  const dead =
    method === 'burl'
      ? "unless the publisher's burl is answered with a 302 to it (the account's redirect allow-list admits its host, as it admits any while off), its delivery is dead as soon as the impression counts"
      : 'its delivery is dead as soon as the impression counts';
  return [
    `${burl} names ${refusal.address}, an address outside the public internet, which Tally's relay refuses to call: ${dead}, so the DSP's billing URL is never called and the DSP is not billed for this win; give the DSP's public host, or set TALLY_BURL_PRIVATE_NETWORKS=allow to call DSPs on private networks`,
  ];
}

/**
 * Whether `url` is an absolute http or https URL with a host, which a server or player can call;
 * as URL parsers read it, leading spaces and control characters are no part of it.
 */
function isAbsoluteHttpUrl(url: string): boolean {
  let start = 0;
  while (start < url.length && url.charCodeAt(start) <= 0x20) start++;
  return /^https?:\/\/[^/?#\s]/i.test(url.slice(start));
}

/**
 * The URL a video or audio `bid.adm` is, when it is one absolute http(s) URL and nothing else
 * (white space around it aside): a VAST tag URL, which a player loads, not VAST markup.
 */
function vastTagUrlOf(adm: string): string | undefined {
  const url = adm.trim();
  return /^https?:\/\/[^/?#\s<>"]\S*$/i.test(url) ? url : undefined;
}

const VAST_TAG_URL_ADM_WARNING =
  'bid.adm is a URL, not VAST markup: the VAST wrapper Tally serves loads it as its <VASTAdTagURI>, as a player given a VAST tag URL would; send the VAST document itself as adm, or the URL as bid.nurl without adm';

/**
 * What is wrong with a video or audio bid served by the VAST wrapper of its `nurl`: a `bid.adm`
 * ignored for not being markup, a nurl the player cannot load (the wrapper's `<VASTAdTagURI>`).
 */
function wrappedNurlWarnings(adm: unknown, nurl: string): string[] {
  const warnings: string[] = [];
  const ignored = notMarkup(adm);
  if (ignored !== undefined) warnings.push(`${ignored}: the VAST wrapper loads bid.nurl instead`);
  if (!isAbsoluteHttpUrl(nurl)) {
    warnings.push(
      `bid.nurl ${JSON.stringify(cutAt(nurl, MAX_QUOTED_URL_CHARS))} is not an absolute http(s) URL: it is the <VASTAdTagURI> of the VAST wrapper Tally serves, which the player cannot load, so the ad cannot play`,
    );
  }
  return warnings;
}

/**
 * Why a `bid.adm` sent as something no markup is (a number, an array, a boolean) is not served:
 * markup is a string, or a native response's JSON object. `undefined` for any other `bid.adm`,
 * absent or one that is served.
 */
function notMarkup(adm: unknown): string | undefined {
  if (adm === undefined || adm === null || typeof adm === 'string' || asObject(adm) !== undefined) {
    return undefined;
  }
  return `bid.adm is ${jsonKind(adm)}, not a string (markup must be one; a native response may also be a JSON object), so it is not served`;
}

/**
 * A `bid.adm` sent as a JSON object is read as its JSON text: a native response may come so, no
 * other format's markup can.
 */
function admWarnings(adm: unknown, format: Format): string[] {
  if (format === 'native' || asObject(adm) === undefined) return [];
  return [
    `bid.adm is a JSON object, not the markup of a ${format} ad: it was served as its JSON text; send the markup as a string`,
  ];
}

/** The bid's burl, nurl and markup, by field, where the DSP writes macros for Tally to fill. */
type DspTexts = readonly (readonly [field: string, text: string | undefined])[];

/**
 * The DSP's texts whose macros Tally fills: its burl and markup, and its nurl where `nurlServed`
 * (the VAST wrapper of a video or audio bid without markup loads it). Any other nurl is the
 * exchange's win notice, which Tally neither fills nor calls, so it warns of nothing in it.
 */
function dspTextsOf(bid: OrtbBid, adm: string | undefined, nurlServed: boolean): DspTexts {
  const textOf = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return [
    ['bid.burl', textOf(bid.burl)],
    ['bid.nurl', nurlServed ? textOf(bid.nurl) : undefined],
    ['bid.adm', adm],
  ];
}

/**
 * Most unfilled macros of one field that are named: misspelt ones, each in a warning of its own
 * with the macro it likely means, and the others, in one.
 */
const MAX_NAMED_MACROS = 5;

/**
 * Macros in the burl, nurl or markup that Tally leaves as they are: each misspelt one with the
 * macro it likely means, each vendor's privacy macro without its vendor id with the form it needs,
 * and the others (encoded, spaced, near no macro) in one warning.
 */
function unfilledMacroWarnings(texts: DspTexts): string[] {
  return texts.flatMap(([field, text]) => {
    const unfilled = text === undefined ? [] : unfilledMacros(text);
    const misspelt = unfilled
      .flatMap(({ macro, meant, vendorMacro }) => {
        if (vendorMacro !== undefined) {
          return [
            `${field} holds ${macro}, which Tally does not fill: the IAB's macro ends in the id of the vendor the URL calls, as the Global Vendor List numbers it, \${${vendorMacro}_<vendor id>} (e.g. \${${vendorMacro}_755} for vendor 755)`,
          ];
        }
        return meant === undefined
          ? []
          : [`${field} holds ${macro}, which Tally does not fill: did you mean ${meant}?`];
      })
      .slice(0, MAX_NAMED_MACROS);
    const others = unfilled
      .filter(({ meant, vendorMacro }) => meant === undefined && vendorMacro === undefined)
      .map(({ macro }) => macro);
    if (others.length === 0) return misspelt;
    return [
      ...misspelt,
      `${field} holds macros Tally does not fill, left as they are: ${others.slice(0, MAX_NAMED_MACROS).join(', ')} (OpenRTB macros are filled only when spelt \${AUCTION_…} exactly, not percent-encoded)`,
    ];
  });
}

/**
 * The macros Tally fills empty, having no value for them: the minimum bid to win, the discounts and
 * Index's supply fee (no win field carries them), `${AUCTION_BID_ID}` when the win gives no
 * `bidResponseId`, and `${AUCTION_MBR}` when it gives no `bid.price` above 0 to divide by.
 */
function emptyMacroWarnings(parsed: ParsedWin, texts: DspTexts): string[] {
  const empty = [
    '${AUCTION_MIN_TO_WIN}',
    '${AUCTION_DISCOUNT_PCT}',
    '${AUCTION_DISCOUNT_CPM}',
    '${SUPPLY_FEE}',
  ];
  if (parsed.bidResponseId === '') empty.push('${AUCTION_BID_ID}');
  // The market bid ratio is the clearing price over the bid's own price.
  if (!(parsed.bidMicros !== undefined && parsed.bidMicros > 0)) empty.push('${AUCTION_MBR}');
  return texts.flatMap(([field, text]) => {
    const named = text === undefined ? [] : empty.filter((macro) => text.includes(macro));
    if (named.length === 0) return [];
    const hints = [
      ...(named.includes('${AUCTION_BID_ID}') ? ["send the BidResponse's bidid as bidResponseId"] : []),
      ...(named.includes('${AUCTION_MBR}')
        ? ['${AUCTION_MBR} is the clearing price over bid.price, which the win gives as none or 0']
        : []),
    ];
    return [
      `${field} holds ${named.join(', ')}, which Tally fills ${unknownFilling(parsed.test)}: it has no value for ${named.length === 1 ? 'it' : 'them'}${hints.length === 0 ? '' : ` (${hints.join('; ')})`}`,
    ];
  });
}

/** How a warning says what a macro with no value is filled with (see {@link macroValues}). */
function unknownFilling(test: boolean): string {
  return test ? `with ${AUDIT} in this test win` : 'empty';
}

/**
 * A privacy macro in the burl, nurl or markup filled empty though the request gives its signal, in
 * another form than OpenRTB's (`regs.gdpr` "1"): the DSP would read that the request had none.
 */
function unreadPrivacyWarnings(request: OrtbBidRequest, texts: DspTexts): string[] {
  const unread = unreadPrivacySignals(request);
  return texts.flatMap(([field, text]) =>
    unread
      .filter(({ macro }) => text?.includes(macro) === true)
      .map(
        ({ macro, field: signal, value, expected }) =>
          `${field} holds ${macro}, which Tally fills empty: ${signal} is ${shown(value)}, where OpenRTB gives ${expected}`,
      ),
  );
}

/**
 * `${AUCTION_IMP_TS}` where Tally fills it as the win is registered, before the impression happens:
 * in the markup, the nurl, and the burl where it goes into the markup (an app banner counted on its
 * pixel). Only the burl Tally calls or redirects to once a notice counts carries the impression's time.
 */
function impressionTimeWarnings(texts: DspTexts, burlInMarkup: boolean, test: boolean): string[] {
  return texts.flatMap(([field, text]) => {
    const filledAtRegistration = field !== 'bid.burl' || burlInMarkup;
    if (!filledAtRegistration || text?.includes('${AUCTION_IMP_TS}') !== true) return [];
    return [
      `${field} holds \${AUCTION_IMP_TS}, which Tally fills ${unknownFilling(test)}: it has no value for it (the impression's time is known only once a notice counts: only the burl Tally calls or redirects to carries it)`,
    ];
  });
}

/**
 * A bid whose burl, nurl or markup asks for the encrypted price (`${AUCTION_PRICE:…}`) while its
 * seat has no price keys: the DSP would get an empty price there, unbeknown to anyone.
 */
function encodedPriceWarnings(
  parsed: ParsedWin,
  texts: DspTexts,
  env: Pick<WinEnvironment, 'priceKeysFor' | 'accountId'>,
): string[] {
  if (env.priceKeysFor(env.accountId, parsed.seat) !== undefined) return [];
  if (!texts.some(([, text]) => text !== undefined && usesEncryptedPrice(text))) return [];
  return [
    `the bid asks for an encrypted price (\${AUCTION_PRICE:…}) but seat "${parsed.seat}" has no price keys for account ${env.accountId} in TALLY_PRICE_KEYS: it is filled ${parsed.test ? `with ${AUDIT} in this test win` : 'with an empty string'}`,
  ];
}

function admText(adm: unknown): string | undefined {
  if (typeof adm === 'string') return adm.trim() === '' ? undefined : adm;
  if (asObject(adm) !== undefined) return JSON.stringify(adm);
  return undefined;
}
