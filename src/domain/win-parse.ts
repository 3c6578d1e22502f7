/**
 * Reading a win as the exchange sends it (`POST /v1/wins`): each field checked, and refused with a
 * message that says what to fix, before anything is instrumented. Pure.
 */
import { KNOWN_CURRENCIES } from './known-currencies.js';
import { formatMicros, numberToMicros } from './macros.js';
import { asId, asObject } from './openrtb.js';
import type { OrtbBid, OrtbBidRequest } from './openrtb.js';
import { closestName } from '../lib/closest-name.js';
import { cutAt, isInexactInteger, jsonKind, shown, shownName, shownSent } from '../lib/shown.js';
import { memberStep } from './duplicate-members.js';
import { AN_ID, inexactIdField, publisherIdOf, publisherIdValue } from './win-ids.js';
import type { WinInput } from './win.js';

/**
 * The highest price (CPM) a win may bill: 10^9 currency units, far above any CPM even in currencies
 * of small units (a premium CPM is about 10^6 rupiah or dong), and so a mistake such as a price
 * in micros, refused rather than reported.
 */
export const MAX_PRICE_MICROS = 1_000_000_000_000_000;

/** How far ahead of Tally's clock an exchange's auction time may be. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * 2001-09-09: an auction time before it is a time in seconds since the epoch (today's is about
 * 1.8e9), read as milliseconds a date in January 1970, when every notice would be late.
 */
export const EARLIEST_AUCTION_TIME_MS = 1_000_000_000_000;

/**
 * A win as {@link parseWin} reads it: its ids as strings, its prices in micros, and what it left
 * out filled in (USD, the auction at Tally's clock, no test).
 */
export interface ParsedWin {
  request: OrtbBidRequest;
  bid: OrtbBid;
  auctionId: string;
  impId: string;
  bidId: string;
  bidResponseId: string;
  seat: string;
  publisherId: string;
  priceMicros: number;
  /** The price as sent (`clearingPrice`, else `bid.price`), and which field sent it. */
  priceSent: { value: number; field: 'clearingPrice' | 'bid.price' };
  /** The bid's own price, for `${AUCTION_MBR}`. */
  bidMicros: number | undefined;
  currency: string;
  /** Whether the win named its currency, rather than taking USD. */
  currencySent: boolean;
  auctionTimeMs: number;
  publisherBurl: boolean;
  test: boolean;
}

/** The fields a win may give; any other is refused, so that a misspelt one is never ignored. */
const WIN_FIELDS: readonly (keyof WinInput)[] = [
  'request',
  'seat',
  'bid',
  'clearingPrice',
  'bidResponseId',
  'currency',
  'auctionTimeMs',
  'publisherBurl',
  'test',
];

/**
 * The BidResponse's own names (OpenRTB's `bidid` and `cur`) for fields a win names otherwise, by
 * their letters as {@link unknownFieldMessage} compares them.
 */
const OPENRTB_NAMES: Readonly<Record<string, keyof WinInput>> = {
  bidid: 'bidResponseId',
  cur: 'currency',
};

/**
 * Why `field` is not a win's: names the field it was likely meant as (same letters, whatever the
 * case, `_` or `-`, the BidResponse's name for it, or a misspelling of it, `tset` for `test`), or
 * lists them all.
 */
function unknownFieldMessage(field: string): string {
  const squash = (name: string) => name.replace(/[-_]/g, '').toLowerCase();
  const meant =
    WIN_FIELDS.find((known) => squash(known) === squash(field)) ??
    (Object.hasOwn(OPENRTB_NAMES, squash(field)) ? OPENRTB_NAMES[squash(field)] : undefined) ??
    closestName(squash(field), WIN_FIELDS);
  const named = shownName(field);
  return meant === undefined
    ? `${named} is not a field of a win; the fields are ${WIN_FIELDS.join(', ')}`
    : `${named} is not a field of a win: send it as ${meant}`;
}

/**
 * The win `sent` read and checked, its auction time against Tally's clock (`nowMs`); or, for the
 * first field it cannot take, a `VALIDATION_FAILED` error whose message says what to fix.
 */
export function parseWin(sent: WinInput, nowMs: number): ParsedWin | { code: string; message: string } {
  const invalid = (message: string) => ({ code: 'VALIDATION_FAILED', message });
  const unknown = Object.keys(sent).find((field) => !(WIN_FIELDS as readonly string[]).includes(field));
  if (unknown !== undefined) return invalid(unknownFieldMessage(unknown));
  // A field sent as null is taken as absent, as clients that write every optional field send it.
  const input = Object.fromEntries(Object.entries(sent).filter(([, value]) => value !== null)) as WinInput;
  const request = asObject(input.request) as OrtbBidRequest | undefined;
  if (request === undefined) {
    return invalid(notAnObject('request', input.request, 'the OpenRTB BidRequest', 'of the auction'));
  }
  const bid = asObject(input.bid) as OrtbBid | undefined;
  if (bid === undefined) return invalid(notAnObject('bid', input.bid, 'the winning OpenRTB Bid', ''));
  if ('seatbid' in bid)
    return invalid(
      'bid is a whole BidResponse (it has seatbid): send the winning Bid, seatbid[].bid[], as bid, its seatbid.seat as seat and its bidid as bidResponseId',
    );
  const inexactId = inexactIdField(request, bid, input);
  if (inexactId !== undefined) {
    return invalid(
      `${inexactId} is a number that is not whole or passes 2^53 - 1, which JSON readers round (two such ids can read as one): send it as a string`,
    );
  }
  // A bid.adm sent as an object is served as the JSON of what was read (see admText).
  const inexactInAdm = asObject(bid.adm) === undefined ? undefined : inexactNumberPath(bid.adm, 'bid.adm');
  if (inexactInAdm !== undefined) {
    return invalid(
      `${inexactInAdm} is a number past 2^53 - 1 in size, which JSON readers round: a bid.adm sent as a JSON object is served as the JSON of what was read, which would carry another number, so send bid.adm as a string, whose text is served as sent`,
    );
  }
  const auctionId = asId(request.id);
  if (auctionId === undefined) return invalid(`request.id (the auction id) must be ${AN_ID}`);
  const impId = asId(bid.impid);
  if (impId === undefined) return invalid(`bid.impid must be ${AN_ID}, naming the imp the bid won`);
  const bidId = asId(bid.id);
  if (bidId === undefined) return invalid(`bid.id must be ${AN_ID}`);
  const seat = asId(input.seat);
  if (seat === undefined)
    return invalid(
      `seat must be ${AN_ID}: the winning seatbid.seat, or, where the DSP names no seat, one id of your own for that DSP (a bidder code), the same for all its wins, as it is part of each impression's dedupe key and picks its price keys`,
    );
  const price = input.clearingPrice ?? bid.price;
  const priceField = input.clearingPrice === undefined ? 'bid.price' : 'clearingPrice';
  const priceMicros = cpmMicros(price);
  if (priceMicros === undefined) return invalid(cpmRefusal(priceField, price));
  // The bid's own price fills ${AUCTION_MBR} and is checked against the clearing price: one sent
  // as something else is refused, not passed over.
  const bidMicros = bid.price === undefined || bid.price === null ? undefined : cpmMicros(bid.price);
  if (bidMicros === undefined && bid.price !== undefined && bid.price !== null)
    return invalid(cpmRefusal('bid.price', bid.price));
  const currency = input.currency ?? 'USD';
  if (typeof currency !== 'string' || !CURRENCY_CODE.test(currency))
    return invalid(currencyRefusal(currency));
  const auctionTimeMs = input.auctionTimeMs ?? nowMs;
  if (typeof auctionTimeMs !== 'number' || !Number.isSafeInteger(auctionTimeMs) || auctionTimeMs < 0) {
    return invalid(
      `auctionTimeMs must be the auction time in milliseconds since the epoch (an integer), not ${shownSent(auctionTimeMs)}`,
    );
  }
  if (auctionTimeMs > nowMs + MAX_CLOCK_SKEW_MS) {
    // Both times said: a right auction time is refused so when Tally's clock is behind.
    return invalid(
      `auctionTimeMs ${auctionTimeMs} (${dateOrNone(auctionTimeMs)}) is ${auctionTimeMs - nowMs} ms ahead of Tally's clock (${dateOrNone(nowMs)}), more than the ${MAX_CLOCK_SKEW_MS / 60_000} minutes allowed: send the auction time in milliseconds since the epoch (UTC); if it was, Tally's clock is behind, for its operator to set`,
    );
  }
  if (auctionTimeMs < EARLIEST_AUCTION_TIME_MS) {
    return invalid(
      `auctionTimeMs ${auctionTimeMs} is ${new Date(auctionTimeMs).toISOString()}: send the auction time in milliseconds since the epoch, not seconds`,
    );
  }
  const bidResponseId = input.bidResponseId === undefined ? '' : asId(input.bidResponseId);
  // An empty one is none, as when absent.
  if (bidResponseId === undefined && input.bidResponseId !== '') {
    return invalid(`bidResponseId must be the BidResponse's bidid, ${AN_ID}`);
  }
  if (input.publisherBurl !== undefined && typeof input.publisherBurl !== 'boolean') {
    return invalid(`publisherBurl must be true or false, not ${shownSent(input.publisherBurl)}`);
  }
  if (input.test !== undefined && typeof input.test !== 'boolean')
    return invalid(`test must be true or false, not ${shownSent(input.test)}`);
  // Whether the auction is billed turns on it: a value OpenRTB does not define is not guessed at.
  if (request.test !== undefined && request.test !== null && request.test !== 0 && request.test !== 1) {
    return invalid(
      `request.test must be 0 (a live auction) or 1 (a test one, never billed), as OpenRTB defines it; it is ${shown(request.test)}`,
    );
  }
  const publisherRefusal = malformedPublisher(request);
  if (publisherRefusal !== undefined) return invalid(publisherRefusal);
  const publisherId = publisherIdOf(request.site) ?? publisherIdOf(request.app) ?? '';
  return {
    request,
    bid,
    auctionId,
    impId,
    bidId,
    bidResponseId: bidResponseId ?? '',
    seat,
    publisherId,
    priceMicros,
    priceSent: { value: price as number, field: priceField },
    bidMicros,
    currency,
    currencySent: input.currency !== undefined,
    auctionTimeMs,
    publisherBurl: input.publisherBurl === true,
    test: input.test === true || request.test === 1,
  };
}

/**
 * Why a win's `request` or `bid` (`field`), sent as `value`, is not the object it must be, `object`
 * (`of` after it when it is named an object): missing, or what came instead, or, for a string of a
 * JSON object (an exchange that keeps the request as text), that the object itself is wanted.
 */
function notAnObject(field: string, value: unknown, object: string, of: string): string {
  const named = `${object} object${of === '' ? '' : ` ${of}`}`;
  if (value === undefined) return `${field} is missing: it must be ${named}`;
  if (typeof value === 'string' && asObject(parsedJson(value)) !== undefined) {
    return `${field} is a string of JSON text, not an object: send ${object}${of === '' ? '' : ` ${of}`} as the JSON object itself, not as a string of it`;
  }
  const scalar = typeof value !== 'object' || value === null;
  return `${field} must be ${named}, not ${jsonKind(value)}${scalar && value !== null ? ` (${shown(value)})` : ''}`;
}

/** The value of JSON text, or `undefined` when it is not JSON. */
function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** An ISO 4217 alphabetic code, as a win's `currency` must be. */
const CURRENCY_CODE = /^[A-Z]{3}$/;

/**
 * Why `currency` is no currency a win may give, naming the code it likely meant where it is one in
 * small letters or padded (`"usd"`), or the one code of a list (`["USD"]`, as `request.cur` is):
 * only a code Tally knows, as capitals alone make no currency (`"NaN"` is not `"NAN"`).
 */
function currencyRefusal(currency: unknown): string {
  // A string is what is asked for: it is shown as itself.
  const sent = typeof currency === 'string' ? shown(currency) : shownSent(currency);
  const refusal = `currency must be an ISO 4217 code of three capital letters, e.g. "USD", not ${sent}`;
  const meant = typeof currency === 'string' ? currency.trim().toUpperCase() : undefined;
  if (meant !== undefined && KNOWN_CURRENCIES.has(meant)) return `${refusal}: send ${JSON.stringify(meant)}`;
  const [only] = Array.isArray(currency) && currency.length === 1 ? (currency as unknown[]) : [];
  if (typeof only === 'string' && KNOWN_CURRENCIES.has(only)) {
    return `${refusal}: send one code, ${JSON.stringify(only)}`;
  }
  return refusal;
}

/** A price (CPM) a win may bill, in micros: a number from 0 to {@link MAX_PRICE_MICROS}; else `undefined`. */
function cpmMicros(price: unknown): number | undefined {
  const micros = typeof price === 'number' ? numberToMicros(price) : undefined;
  return micros === undefined || micros > MAX_PRICE_MICROS ? undefined : micros;
}

/** Why `price`, sent as `field`, is no price a win may bill: saying what was read where it is no number. */
function cpmRefusal(field: string, price: unknown): string {
  const range = `a CPM in currency units from 0 to ${formatMicros(MAX_PRICE_MICROS)}, e.g. 1.25`;
  if (price === undefined || price === null)
    return `${field} is missing: send the price billed, ${range}, as bid.price or clearingPrice`;
  if (typeof price === 'number') return `${field} must be ${range}, not ${shown(price)}`;
  return `${field} must be a number, ${range}, not ${jsonKind(price)} (${shown(price)})`;
}

/** `ms` as an ISO date, or `past any date` beyond the year 275760, which no `Date` holds. */
function dateOrNone(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? 'past any date' : date.toISOString();
}

/** Most characters of a path {@link inexactNumberPath} gives. */
const MAX_PATH_CHARS = 200;

/**
 * The path, from `path`, of the first whole number past 2^53 - 1 in size that `value` holds (itself,
 * or a member or element at any depth), which JSON may have read rounded; `undefined` when none is.
 */
function inexactNumberPath(value: unknown, path: string): string | undefined {
  const pending: [unknown, string][] = [[value, path]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [member, at] = next;
    if (isInexactInteger(member)) return at.length > MAX_PATH_CHARS ? `${cutAt(at, MAX_PATH_CHARS)}…` : at;
    if (typeof member !== 'object' || member === null) continue;
    const children: [unknown, string][] = Array.isArray(member)
      ? member.map((element, index): [unknown, string] => [element, `${at}[${index}]`])
      : Object.entries(member).map(([name, element]): [unknown, string] => [
          element,
          `${at}${memberStep(name)}`,
        ]);
    // Last first, so that the first in the text is found first.
    for (let index = children.length - 1; index >= 0; index--)
      pending.push(children[index] as [unknown, string]);
  }
  return undefined;
}

/**
 * Why the request's publisher cannot be read, or `undefined`: a `site.publisher` or `app.publisher`
 * that is not an object, or an id that is neither a string nor a whole number (an object, a
 * boolean, an array). The counting rules are picked by it (`TALLY_RULES`), as whether the win is
 * billed turns on `request.test`: read as no publisher, the win would count by every publisher's
 * rules, under another method or TTL than its own, unbeknown to anyone. An empty id names none,
 * as an absent one.
 */
function malformedPublisher(request: OrtbBidRequest): string | undefined {
  for (const place of ['site', 'app'] as const) {
    const siteOrApp = asObject(request[place]);
    const publisher = siteOrApp?.publisher;
    if (publisher === undefined || publisher === null) continue;
    const path = `request.${place}.publisher`;
    if (asObject(publisher) === undefined) {
      return `${path} is ${shown(publisher)}, not an object: send OpenRTB's Publisher object, its id in it ({"id": "pub-1"}), as Tally picks the counting rules (TALLY_RULES) by that id`;
    }
    const id = publisherIdValue(siteOrApp);
    if (id === undefined || id === null || id === '' || asId(id) !== undefined) continue;
    return `${path}.id is ${shown(id)}, neither a string nor a whole number: send the publisher's id as a string (or leave it out), as Tally picks the counting rules (TALLY_RULES) by it, and read as no publisher the win would count by every publisher's rules, not its own`;
  }
  return undefined;
}
