/**
 * What a win fills its DSP's macros with: its ids and prices, its price encoded or encrypted for
 * `${AUCTION_PRICE:…}`, and the DSP's URLs filled with them, as the win is registered and as a
 * notice relays its burl.
 */
import type { MacroValues } from './macros.js';
import { formatMicros, formatPlainDecimal, isBase64Suffix, substituteMacros } from './macros.js';
import { encryptPrice, impressionIv } from './price-crypto.js';
import { impressionKey } from './impression-key.js';
import type { NoticeClaims } from './token.js';
import type { WinEnvironment } from './win.js';

/**
 * What a test win fills a macro with when it has no value for it (OpenRTB 2.6 §4.4: a render for
 * testing or ad quality fills its unknown values with `AUDIT`, so that a counter can drop its hits).
 */
export const AUDIT = 'AUDIT';

/**
 * The macro values known for a win (the impression time is known only when it happens); those it
 * has no value for are empty, or {@link AUDIT} in a test win.
 */
export function macroValues(claims: NoticeClaims, impTsMs?: number): MacroValues {
  const unknown = claims.test ? AUDIT : '';
  return {
    auctionId: claims.auctionId,
    bidResponseId: claims.bidResponseId === '' ? unknown : claims.bidResponseId,
    impId: claims.impId,
    seatId: claims.seat,
    adId: claims.adId === '' ? unknown : claims.adId,
    price: formatMicros(claims.priceMicros),
    currency: claims.currency,
    mbr: claims.bidMicros === 0 ? unknown : formatPlainDecimal(claims.priceMicros / claims.bidMicros),
    loss: '0',
    minToWin: unknown,
    // Tally registers no win whose imp.qty.multiplier is other than 1.
    multiplier: '1',
    impTs: impTsMs === undefined ? unknown : String(impTsMs),
    discountPct: unknown,
    discountCpm: unknown,
    supplyFee: unknown,
  };
}

/**
 * `${AUCTION_PRICE:<suffix>}`: with `:B64` (OpenRTB's own example of an encoding) the price as
 * `${AUCTION_PRICE}` writes it, in Base64; with any other suffix the price encrypted with the
 * account's keys for the seat (Google's scheme), or, when it has none, '' ({@link AUDIT} in a test
 * win): the same for the same impression, price and `atMs` (see `impressionIv`), the time the
 * impression is filled in for.
 */
export function encodedPrice(
  suffix: string,
  claims: NoticeClaims,
  env: Pick<WinEnvironment, 'priceKeysFor'>,
  atMs: number,
): string {
  if (isBase64Suffix(suffix)) return Buffer.from(formatMicros(claims.priceMicros)).toString('base64');
  const keys = env.priceKeysFor(claims.accountId, claims.seat);
  if (keys === undefined) return claims.test ? AUDIT : '';
  const iv = impressionIv(keys, impressionKey(claims), claims.priceMicros, atMs);
  return encryptPrice(claims.priceMicros, keys, iv);
}

/**
 * A DSP's URL (its burl, the nurl a VAST wrapper loads) with its macros filled for the impression
 * of `claims` at `atMs`, each value percent-encoded, so that an id holding `&`, `#` or `?` fills its
 * own parameter and cannot add or cut off another (the price): the same URL each time for the same
 * impression and time. `${AUCTION_IMP_TS}` is `impressionMs` when a notice fills it, else empty.
 */
export function filledDspUrl(
  url: string,
  claims: NoticeClaims,
  env: Pick<WinEnvironment, 'priceKeysFor'>,
  atMs: number,
  impressionMs?: number,
): string {
  return substituteMacros(
    url,
    macroValues(claims, impressionMs),
    (suffix) => encodedPrice(suffix, claims, env, atMs),
    encodeURIComponent,
  );
}
