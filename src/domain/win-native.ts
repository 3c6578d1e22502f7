/**
 * A native win's markup instrumented: Tally's notice added to the native response as an event or
 * impression tracker, as its request offers, or, with no response to hold, what to add to it.
 */
import type { ImpressionTrackerOffer } from './native.js';
import {
  instrumentNative,
  nativeImpressionTrackerOffer,
  unreadableNativeRequest,
  unusableImpressionOffer,
} from './native.js';
import type { InstrumentedMarkup, MarkupToInstrument } from './win-markup.js';
import { notMarkup, servedUntouched } from './win-markup.js';

/** What the exchange is told to add to a native response it serves without Tally's notice, by offer. */
const NATIVE_TRACKER_TO_ADD: Readonly<Record<ImpressionTrackerOffer, string>> = {
  none: 'add noticeUrls.native to the native response it serves',
  image:
    'add noticeUrls.native to the native response it serves, as an event tracker {"event": 1, "method": 1}',
  script:
    'add noticeUrls.native with ?f=b after it (its notice then answers 204, not an image) to the native response it serves, as an event tracker {"event": 1, "method": 2}',
};

/** A native bid's response with Tally's tracker, its notice URL, and what went wrong. */
export function instrumentNativeMarkup(win: MarkupToInstrument): InstrumentedMarkup {
  const noticeUrls = { native: win.noticeUrl('native') };
  const request = win.imp.native?.request;
  const offer = nativeImpressionTrackerOffer(request);
  if (win.markup === undefined) {
    const why = notMarkup(win.bid.adm) ?? 'the bid has no adm';
    return { adm: null, noticeUrls, warnings: [`${why}: ${NATIVE_TRACKER_TO_ADD[offer]}`] };
  }
  const native = instrumentNative(win.markup, noticeUrls.native, offer);
  if (!native.ok) {
    return {
      adm: native.markup,
      noticeUrls,
      warnings: [servedUntouched(native.warning, win.method, 'native')],
    };
  }
  // Why the notice went into imptrackers although the request has event trackers.
  const unusable = unreadableNativeRequest(request) ?? unusableImpressionOffer(request);
  return {
    adm: native.markup,
    noticeUrls,
    warnings: [...(unusable === undefined ? [] : [unusable]), ...native.warnings],
  };
}
