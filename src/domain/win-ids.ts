/**
 * A win's ids, as OpenRTB writes them (strings) and as DSPs also send them (whole numbers): the
 * fields that hold them, and what is said of one sent as a number or as no id at all. Pure.
 */
import { asId, asObject, isInexactNumericId, isNumericId } from './openrtb.js';
import type { OrtbBid, OrtbBidRequest, OrtbImp } from './openrtb.js';
import { shown } from '../lib/shown.js';
import type { ParsedWin } from './win-parse.js';
import type { WinInput } from './win.js';

/**
 * What an id must be, as messages say it: OpenRTB's ids are strings, and a whole number is taken
 * for one (see {@link numericIdWarnings}).
 */
export const AN_ID = 'a non-empty string, as OpenRTB ids are (a whole number is read as its digits)';

/** The win's id fields as sent, by their paths: the won imp's id where `imp` is given, else every imp's. */
function idFields(
  request: OrtbBidRequest,
  bid: OrtbBid,
  input: WinInput,
  imp?: OrtbImp,
): [string, unknown][] {
  const imps = Array.isArray(request.imp) ? (request.imp as unknown[]) : [];
  const impFields = imps.flatMap((candidate, index): [string, unknown][] =>
    imp === undefined || candidate === imp ? [[`request.imp[${index}].id`, asObject(candidate)?.id]] : [],
  );
  return [
    ['request.id', request.id],
    ...impFields,
    ['bid.impid', bid.impid],
    ['bid.id', bid.id],
    ['bid.adid', bid.adid],
    ['seat', input.seat],
    ['bidResponseId', input.bidResponseId],
    ['request.site.publisher.id', publisherIdValue(request.site)],
    ['request.app.publisher.id', publisherIdValue(request.app)],
  ];
}

/** The first id field of the win sent as a number {@link asId} refuses, by its path; else `undefined`. */
export function inexactIdField(request: OrtbBidRequest, bid: OrtbBid, input: WinInput): string | undefined {
  // An imp whose id is such a number matches no bid.impid, or, read rounded, another imp's.
  return idFields(request, bid, input).find(([, value]) => isInexactNumericId(value))?.[0];
}

/**
 * The ids of the win, the won `imp`'s included, sent as whole numbers where OpenRTB writes strings:
 * taken, as exchanges meet DSPs that send them, each read as its digits, so that 123 and "123" are
 * one id (one impression's dedupe key, one seat's price keys).
 */
export function numericIdWarnings(input: WinInput, parsed: ParsedWin, imp: OrtbImp): string[] {
  const numeric = idFields(parsed.request, parsed.bid, input, imp).filter(([, value]) => isNumericId(value));
  const [first] = numeric;
  if (first === undefined) return [];
  const fields = numeric.map(([field]) => field);
  const named =
    fields.length === 1 ? fields[0] : `${fields.slice(0, -1).join(', ')} and ${fields.at(-1) ?? ''}`;
  return [
    `${named} ${fields.length === 1 ? 'is a number' : 'are numbers'} where OpenRTB ids are strings: ${fields.length === 1 ? 'it' : 'each'} is read as the string of its digits (${String(first[1])} as "${String(first[1])}", which is the same id)`,
  ];
}

/**
 * A `bid.adid` that is neither a string nor a whole number, read as none: it is no part of the
 * impression's identity, only what `${AUCTION_AD_ID}` is filled with, which it then fills empty.
 */
export function unreadAdIdWarnings(bid: OrtbBid): string[] {
  const { adid } = bid;
  if (adid === undefined || adid === null || adid === '' || asId(adid) !== undefined) return [];
  return [
    `bid.adid ${shown(adid)} is neither a string nor a whole number: read as none, so \${AUCTION_AD_ID} is filled empty`,
  ];
}

/** The publisher id of a request's `site` or `app` as an id ({@link asId}); `undefined` for none. */
export function publisherIdOf(siteOrApp: unknown): string | undefined {
  return asId(publisherIdValue(siteOrApp));
}

/** `site.publisher.id` or `app.publisher.id` as sent, of whatever type. */
export function publisherIdValue(siteOrApp: unknown): unknown {
  return asObject(asObject(siteOrApp)?.publisher)?.id;
}
