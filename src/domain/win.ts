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
import type { Classification } from './classify.js';
import { classifyWin, isClassifyError } from './classify.js';
import { BASE64_SUFFIX, substituteMacrosInMarkup, macroGrowthBound } from './macros.js';
import type { MarkupLanguage } from './markup-escape.js';
import type { ImpressionTrackerOffer } from './native.js';
import {
  instrumentNative,
  nativeImpressionTrackerOffer,
  unreadableNativeRequest,
  unusableImpressionOffer,
} from './native.js';
import { asId, asObject } from './openrtb.js';
import { privacyMacroGrowthBound, privacyValuesOf, withPrivacyMacrosInUrls } from './privacy-macros.js';
import type { PriceKeys } from './price-crypto.js';
import type { CountingRule, RulesTable } from './rules.js';
import { isPastTtl } from './rules.js';
import type { KeyRing, NoticeClaims } from './token.js';
import { sealToken } from './token.js';
import { cutAt, jsonKind } from '../lib/shown.js';
import type { Format, Method, NoticeKind } from './types.js';
import { instrumentVast, wrapNurlInVast } from './vast.js';
import { parseWin } from './win-parse.js';
import { numericIdWarnings, unreadAdIdWarnings } from './win-ids.js';
import { encodedPrice, filledDspUrl, macroValues } from './dsp-macros.js';
import {
  BURL_IN_MARKUP_WARNING,
  burlWarnings,
  ignoresPublisherBurl,
  MAX_QUOTED_URL_CHARS,
  priceWarnings,
  publisherBurlWarnings,
} from './win-billing-warnings.js';
import { bidExpiryOf, lateWarnings, secureMarkupWarnings } from './win-counting-warnings.js';
import {
  dspTextsOf,
  emptyMacroWarnings,
  encodedPriceWarnings,
  impressionTimeWarnings,
  unfilledMacroWarnings,
  unreadPrivacyWarnings,
} from './win-macro-warnings.js';

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

function admText(adm: unknown): string | undefined {
  if (typeof adm === 'string') return adm.trim() === '' ? undefined : adm;
  if (asObject(adm) !== undefined) return JSON.stringify(adm);
  return undefined;
}
