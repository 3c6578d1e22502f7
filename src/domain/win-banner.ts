/**
 * A banner win's markup instrumented: Tally's pixel, or its OMID script, added to the HTML (an
 * `<amp-pixel>` to an AMPHTML ad), or, with no markup to hold, the tags to add where it is served.
 */
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
import type { Method, NoticeKind } from './types.js';
import type { InstrumentedMarkup, MarkupToInstrument } from './win-markup.js';
import { notMarkup } from './win-markup.js';

/** A banner's markup with Tally's tag, its notice URLs, and what may keep it from counting. */
export function instrumentBannerMarkup(win: MarkupToInstrument): InstrumentedMarkup {
  const { adm, markup, method } = win;
  const noticeUrls: Partial<Record<NoticeKind, string>> = {};
  const warnings: string[] = [];
  let firedUrlChars = 0;
  // AMP4ADS allows no <img>: the AMP runtime fires an <amp-pixel> instead.
  const amp = markup !== undefined && isAmpHtmlAd(markup);
  const tallyPixel = (url: string): string => {
    if (!amp) return pixelTag(url);
    const fired = withoutAmpVariableNames(url);
    firedUrlChars = Math.max(firedUrlChars, fired.length);
    return ampPixelTag(fired);
  };
  const tags: string[] = [];
  const omidScriptUrl = `${win.publicUrl}/omid/verify.js`;
  if (method === 'omid') {
    noticeUrls.omid = win.noticeUrl('omid');
    tags.push(omidScriptTag(omidScriptUrl, noticeUrls.omid));
  } else if (method === 'burl') {
    noticeUrls.loaded = win.noticeUrl('loaded');
    tags.push(tallyPixel(noticeUrls.loaded));
  } else {
    noticeUrls.adm = win.noticeUrl('adm');
    tags.push(tallyPixel(noticeUrls.adm));
    if (win.burlInMarkup) tags.push((amp ? ampPixelTag : pixelTag)(win.fillMacros(win.dspBurl)));
  }
  if (adm !== undefined) {
    const tallyTag = method === 'omid' ? 'script' : 'image';
    // The URL Tally's tag loads, which the markup's policy must admit.
    const tallyTagUrl =
      method === 'omid' ? omidScriptUrl : (noticeUrls.adm ?? noticeUrls.loaded ?? win.publicUrl);
    warnings.push(
      ...bannerShapeWarnings(adm),
      ...framesetWarnings(adm),
      ...contentSecurityPolicyWarnings(adm, tallyTag, tallyTagUrl),
    );
  }
  if (amp) {
    const markupBurl = win.burlInMarkup ? win.fillMacros(win.dspBurl) : undefined;
    warnings.push(...ampWarnings(method, win.publicUrl, markupBurl));
  }
  if (markup === undefined) {
    // The tags themselves: noticeUrls also holds a publisher burl, which counts wherever it is
    // fired, and an OMID notice belongs in Tally's script, not in a pixel.
    const ignored = notMarkup(win.bid.adm);
    const why =
      typeof win.bid.nurl === 'string' && win.bid.nurl.trim() !== ''
        ? `${ignored ?? 'the bid has no adm (markup served on the win notice)'}: add these tags to the markup the nurl returns`
        : `${ignored === undefined ? 'the bid has neither adm nor nurl' : `${ignored}, and the bid has no nurl`}: add these tags to the markup wherever the ad is served`;
    warnings.push(`${why}: ${tags.join('')}`);
    return { adm: null, noticeUrls, warnings, firedUrlChars };
  }
  return { adm: appendToHtml(markup, tags), noticeUrls, warnings, firedUrlChars };
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
