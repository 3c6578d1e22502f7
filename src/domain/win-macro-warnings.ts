/**
 * Warnings about the macros a DSP writes in its burl, nurl and markup that Tally leaves as they
 * are, fills empty or fills before the impression happens: the DSP would read another value than
 * it meant. Pure.
 */
import { unfilledMacros, usesEncryptedPrice } from './macros.js';
import type { OrtbBid, OrtbBidRequest } from './openrtb.js';
import { unreadPrivacySignals } from './privacy-macros.js';
import { shown } from '../lib/shown.js';
import { AUDIT } from './dsp-macros.js';
import type { ParsedWin } from './win-parse.js';
import type { WinEnvironment } from './win.js';

/** The bid's burl, nurl and markup, by field, where the DSP writes macros for Tally to fill. */
export type DspTexts = readonly (readonly [field: string, text: string | undefined])[];

/**
 * The DSP's texts whose macros Tally fills: its burl and markup, and its nurl where `nurlServed`
 * (the VAST wrapper of a video or audio bid without markup loads it). Any other nurl is the
 * exchange's win notice, which Tally neither fills nor calls, so it warns of nothing in it.
 */
export function dspTextsOf(bid: OrtbBid, adm: string | undefined, nurlServed: boolean): DspTexts {
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
export function unfilledMacroWarnings(texts: DspTexts): string[] {
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
export function emptyMacroWarnings(parsed: ParsedWin, texts: DspTexts): string[] {
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

/** How a warning says what a macro with no value is filled with (see `macroValues`, dsp-macros.ts). */
function unknownFilling(test: boolean): string {
  return test ? `with ${AUDIT} in this test win` : 'empty';
}

/**
 * A privacy macro in the burl, nurl or markup filled empty though the request gives its signal, in
 * another form than OpenRTB's (`regs.gdpr` "1"): the DSP would read that the request had none.
 */
export function unreadPrivacyWarnings(request: OrtbBidRequest, texts: DspTexts): string[] {
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
export function impressionTimeWarnings(texts: DspTexts, burlInMarkup: boolean, test: boolean): string[] {
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
export function encodedPriceWarnings(
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
