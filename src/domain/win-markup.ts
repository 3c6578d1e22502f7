/**
 * A bid's markup as sent and as served: the text Tally instruments, why a `bid.adm` that is no
 * markup is not served, and what instrumenting a win's markup for its format reads and gives.
 */
import type { OrtbBid, OrtbImp } from './openrtb.js';
import { asObject } from './openrtb.js';
import type { Format, Method, NoticeKind } from './types.js';
import { jsonKind } from '../lib/shown.js';

/** What instrumenting a win's markup for its format reads, once the win is read and its rule chosen. */
export interface MarkupToInstrument {
  /** The winning bid, the request's privacy signals filled into its burl and nurl. */
  bid: OrtbBid;
  /** The imp the bid won. */
  imp: OrtbImp;
  /** The markup as the DSP sent it ({@link admText}); `undefined` when it sent none to serve. */
  adm: string | undefined;
  /** `adm` with the win's macros filled, each value escaped for where it stands. */
  markup: string | undefined;
  /** The notice the win counts on, as its counting rule says. */
  method: Method;
  /** The DSP's burl, '' when it sent none. */
  dspBurl: string;
  /** Whether the DSP's burl goes into the markup beside Tally's pixel (an app banner's). */
  burlInMarkup: boolean;
  /** Base URL of Tally's notice endpoints, without a trailing slash. */
  publicUrl: string;
  /** Tally's notice URL of this win for a notice kind. */
  noticeUrl(kind: NoticeKind): string;
  /** A DSP's URL with this win's macros filled, each value percent-encoded. */
  fillMacros(url: string): string;
}

/** What instrumenting a win's markup gives: the markup to serve, its notice URLs, its warnings. */
export interface InstrumentedMarkup {
  /** The instrumented markup; `null` when the bid carried none that Tally could hold. */
  adm: string | null;
  /** The notice URLs handed out for the markup, by notice kind. */
  noticeUrls: Partial<Record<NoticeKind, string>>;
  warnings: string[];
  /** The longest notice URL as the markup fires it, where that differs from `noticeUrls`. */
  firedUrlChars?: number;
}

/** The markup of a `bid.adm` to instrument: a string not blank, or a JSON object's text; else `undefined`. */
export function admText(adm: unknown): string | undefined {
  if (typeof adm === 'string') return adm.trim() === '' ? undefined : adm;
  if (asObject(adm) !== undefined) return JSON.stringify(adm);
  return undefined;
}

/**
 * Why a `bid.adm` sent as something no markup is (a number, an array, a boolean) is not served:
 * markup is a string, or a native response's JSON object. `undefined` for any other `bid.adm`,
 * absent or one that is served.
 */
export function notMarkup(adm: unknown): string | undefined {
  if (adm === undefined || adm === null || typeof adm === 'string' || asObject(adm) !== undefined) {
    return undefined;
  }
  return `bid.adm is ${jsonKind(adm)}, not a string (markup must be one; a native response may also be a JSON object), so it is not served`;
}

/**
 * A `bid.adm` sent as a JSON object is read as its JSON text: a native response may come so, no
 * other format's markup can.
 */
export function admWarnings(adm: unknown, format: Format): string[] {
  if (format === 'native' || asObject(adm) === undefined) return [];
  return [
    `bid.adm is a JSON object, not the markup of a ${format} ad: it was served as its JSON text; send the markup as a string`,
  ];
}

/**
 * The warning for markup Tally could not instrument, which is served as it came: why, and, when the
 * impression counts on the markup's own notice (`method`), that it cannot count unless that notice
 * URL is fired some other way.
 */
export function servedUntouched(why: string, method: Method, notice: 'vast' | 'native'): string {
  if (method !== notice) return `${why}: the markup is served as it came`;
  const place =
    notice === 'vast'
      ? 'as an <Impression> of the VAST the player reads'
      : 'as an impression tracker of the native response';
  return `${why}: the markup is served as it came, without Tally's notice, so this impression cannot count unless noticeUrls.${notice} is fired ${place}`;
}
