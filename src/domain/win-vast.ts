/**
 * A video or audio win's markup instrumented: Tally's impression and error trackers added to its
 * VAST, or a VAST wrapper of Tally's around a VAST tag URL (its adm, else its nurl).
 */
import type { NoticeKind } from './types.js';
import { cutAt } from '../lib/shown.js';
import { MAX_QUOTED_URL_CHARS } from './win-billing-warnings.js';
import { instrumentVast, wrapNurlInVast } from './vast.js';
import type { InstrumentedMarkup, MarkupToInstrument } from './win-markup.js';
import { notMarkup, servedUntouched } from './win-markup.js';

const ERRORCODE_MACRO = '[ERRORCODE]';

/** A video or audio bid's VAST with Tally's trackers, its notice URLs, and what went wrong. */
export function instrumentVastMarkup(win: MarkupToInstrument): InstrumentedMarkup {
  const { adm, markup } = win;
  const vast = win.noticeUrl('vast');
  const vastError = `${win.noticeUrl('vast_error')}?e=${ERRORCODE_MACRO}`;
  const noticeUrls: Partial<Record<NoticeKind, string>> = { vast, vast_error: vastError };
  const trackers = { impressionUrl: vast, errorUrl: vastError };
  const nurl = typeof win.bid.nurl === 'string' ? win.bid.nurl : '';
  const tagUrl = adm === undefined ? undefined : vastTagUrlOf(adm);
  if (tagUrl !== undefined) {
    // A VAST tag URL sent as the markup, as some DSPs send it (Prebid's adapters read an adm
    // starting with http as one): served as a player would load it, through a wrapper.
    return {
      adm: wrapNurlInVast(win.fillMacros(tagUrl), trackers),
      noticeUrls,
      warnings: [VAST_TAG_URL_ADM_WARNING],
    };
  }
  if (markup !== undefined) {
    const instrumented = instrumentVast(markup, trackers);
    const warnings = instrumented.ok
      ? instrumented.warnings
      : instrumented.noAd
        ? [`${instrumented.warning}; the markup is served as it came`]
        : [servedUntouched(instrumented.warning, win.method, 'vast')];
    return { adm: instrumented.markup, noticeUrls, warnings };
  }
  if (nurl !== '') {
    return {
      adm: wrapNurlInVast(win.fillMacros(nurl), trackers),
      noticeUrls,
      warnings: wrappedNurlWarnings(win.bid.adm, nurl),
    };
  }
  const ignored = notMarkup(win.bid.adm);
  const warning =
    ignored === undefined
      ? 'the bid has neither adm nor nurl: there is no VAST to instrument'
      : `${ignored}, and the bid has no nurl: there is no VAST to instrument`;
  return { adm: null, noticeUrls, warnings: [warning] };
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
