import type { MarkupLanguage } from './markup-escape.js';
import { substituteInMarkup } from './markup-escape.js';
import { closestName } from '../lib/closest-name.js';

/**
 * Values for the OpenRTB 2.6 substitution macros (§4.4), already formatted as text. A value left
 * undefined substitutes as `''`.
 */
export interface MacroValues {
  auctionId?: string;
  /** `BidResponse.bidid`, the bidder's id of its response (not `bid.id`). */
  bidResponseId?: string;
  impId?: string;
  seatId?: string;
  adId?: string;
  price?: string;
  currency?: string;
  mbr?: string;
  loss?: string;
  minToWin?: string;
  multiplier?: string;
  impTs?: string;
  discountPct?: string;
  discountCpm?: string;
  /**
   * Index's `${SUPPLY_FEE}`, the exchange's revenue share in percent. No win carries it: empty, as
   * Index fills it where the seller does not disclose its fee (`AUDIT` in a test win).
   */
  supplyFee?: string;
  /** The IAB's privacy macros, from the bid request (see `privacyValuesOf`). */
  gdpr?: string;
  gdprConsent?: string;
  usPrivacy?: string;
  gppString?: string;
  gppSid?: string;
}

/** The IAB's privacy macros that name no vendor, by name. */
const PRIVACY_MACRO_FIELDS: Readonly<Record<string, keyof MacroValues>> = {
  GDPR: 'gdpr',
  US_PRIVACY: 'usPrivacy',
  GPP_SID: 'gppSid',
};

const MACRO_FIELDS: Readonly<Record<string, keyof MacroValues>> = {
  AUCTION_ID: 'auctionId',
  AUCTION_BID_ID: 'bidResponseId',
  AUCTION_IMP_ID: 'impId',
  AUCTION_SEAT_ID: 'seatId',
  AUCTION_AD_ID: 'adId',
  AUCTION_PRICE: 'price',
  AUCTION_CURRENCY: 'currency',
  AUCTION_MBR: 'mbr',
  AUCTION_LOSS: 'loss',
  AUCTION_MIN_TO_WIN: 'minToWin',
  AUCTION_MULTIPLIER: 'multiplier',
  AUCTION_IMP_TS: 'impTs',
  AUCTION_DISCOUNT_PCT: 'discountPct',
  AUCTION_DISCOUNT_CPM: 'discountCpm',
  SUPPLY_FEE: 'supplyFee',
  ...PRIVACY_MACRO_FIELDS,
};

/** The IAB's privacy macros that name a vendor (`${GDPR_CONSENT_755}`), by the name before its id. */
const VENDOR_MACRO_FIELDS: Readonly<Record<string, keyof MacroValues>> = {
  GDPR_CONSENT: 'gdprConsent',
  GPP_STRING: 'gppString',
};

/**
 * The macros of the `fields` named: `${NAME}` (group `name`), `${AUCTION_PRICE:SUFFIX}` with
 * `suffixedPrice` (group `suffix`), or a vendor's privacy macro `${GDPR_CONSENT_755}` (group
 * `vendor`, its name without the id).
 */
function macroPattern(fields: Readonly<Record<string, keyof MacroValues>>, suffixedPrice: boolean): RegExp {
  const price = suffixedPrice ? '|AUCTION_PRICE:(?<suffix>[A-Za-z0-9_.-]+)' : '';
  const vendors = Object.keys(VENDOR_MACRO_FIELDS).join('|');
  return new RegExp(
    `\\$\\{(?:(?<name>${Object.keys(fields).join('|')})${price}|(?<vendor>${vendors})_\\d{1,6})\\}`,
    'g',
  );
}

/** Every macro Tally fills. */
const MACRO_PATTERN = macroPattern(MACRO_FIELDS, true);
/** The IAB's privacy macros alone. */
const PRIVACY_MACRO_PATTERN = macroPattern(PRIVACY_MACRO_FIELDS, false);

/**
 * `${AUCTION_…}` spelt as no known macro, or written otherwise than OpenRTB's substitution reads
 * it: percent-encoded whole or in its braces (`%24%7B…%7D`, `$%7B…%7D`), without its `$`
 * (`{AUCTION_PRICE}`), with spaces inside its braces; a vendor's privacy macro without its vendor
 * id (`${GDPR_CONSENT}`). The DSP gets them back as they are. A suffix runs to the next brace,
 * `{` or `}`: read to the text's end for a `}` that never comes, each macro left open would make
 * the time quadratic in their number.
 */
const UNFILLED_MACRO_PATTERN =
  /\$\{\s*AUCTION_[A-Za-z0-9_]*\s*(?::[^{}]*)?\}|(?:%24|\$)%7BAUCTION_[A-Za-z0-9_]*(?:%3A[^%]*)?%7D|(?<![$\w])\{AUCTION_[A-Za-z0-9_]*(?::[^{}]*)?\}|\$\{(?:GDPR_CONSENT|GPP_STRING)(?:_[^{}]*)?\}/gi;

const KNOWN_MACRO = new RegExp(`^(?:${MACRO_PATTERN.source})$`);
/** Whether a whole macro is one {@link UNFILLED_MACRO_PATTERN} catches. */
const UNFILLED_FORM = new RegExp(`^(?:${UNFILLED_MACRO_PATTERN.source})$`, 'i');

/**
 * `${NAME}` or `${NAME:SUFFIX}` whatever its name (group `written`, its suffix group `writtenSuffix`),
 * else what {@link UNFILLED_MACRO_PATTERN} catches: written first, so that a misspelt name is read.
 */
const CANDIDATE_MACRO_PATTERN = new RegExp(
  `\\$\\{(?<written>[A-Za-z0-9_]+)(?::(?<writtenSuffix>[A-Za-z0-9_.-]+))?\\}|${UNFILLED_MACRO_PATTERN.source}`,
  'gi',
);

/**
 * Most edits (a letter added, dropped or changed, two swapped) between a misspelt macro's name and
 * the name it is taken to mean: every name Tally fills begins alike (`AUCTION_`), and at 3 edits
 * `${AUCTION_FOO}` would mean `${AUCTION_LOSS}`.
 */
const MAX_MACRO_EDITS = 2;

/** A macro substitution leaves as it is, as the DSP wrote it. */
interface UnfilledMacro {
  macro: string;
  /**
   * The macro Tally fills that it most likely misspells (`${AUCTION_PRICE}` for
   * `${AUCITON_PRICE}`), where one is that near; `undefined` for one merely written otherwise
   * (percent-encoded, spaced) or near none.
   */
  meant?: string;
  /**
   * For a vendor's privacy macro written without its vendor id (`${GDPR_CONSENT}`,
   * `${GDPR_CONSENT_XXXX}`, or misspelt so, `${GDPR_CONSNET}`), the name it needs the id after
   * (`GDPR_CONSENT`, written `${GDPR_CONSENT_<vendor id>}`); `undefined` for any other.
   */
  vendorMacro?: string;
}

/**
 * Most distinct `${NAME}`s of one text whose name is judged against those Tally fills: markup of
 * megabytes could hold a million, each costing hundreds of steps, where real markup holds dozens.
 */
const MAX_JUDGED_MACROS = 256;

/**
 * The distinct macros in `text` that substitution leaves as they are, in the order written: every
 * `${AUCTION_…}`-like one and vendor's privacy macro without its vendor id (see
 * {@link UNFILLED_MACRO_PATTERN}), and any other `${NAME}` written in capitals within
 * {@link MAX_MACRO_EDITS} of a name Tally fills (`${AUCTON_ID}`, `${GDRP}`, `${GDPR_CONSNET}`): an
 * exchange's own macros (`${CLICK_URL}`) and a script's `${variable}` are no misspelling of one.
 * Past the first {@link MAX_JUDGED_MACROS} names judged, none is taken for a misspelling.
 */
export function unfilledMacros(text: string): UnfilledMacro[] {
  const unfilled = new Map<string, Hint>();
  const seen = new Set<string>();
  let judged = 0;
  for (const match of text.matchAll(CANDIDATE_MACRO_PATTERN)) {
    const [macro] = match;
    if (seen.has(macro)) continue;
    seen.add(macro);
    if (KNOWN_MACRO.test(macro)) continue;
    const { written, writtenSuffix } = match.groups ?? {};
    const caught = UNFILLED_FORM.test(macro);
    let hint: Hint = {};
    if (written !== undefined && (caught || !/[a-z]/.test(written)) && judged < MAX_JUDGED_MACROS) {
      judged++;
      hint = macroHint(written, writtenSuffix);
    }
    if (caught || Object.keys(hint).length > 0) unfilled.set(macro, hint);
  }
  return [...unfilled].map(([macro, hint]) => ({ macro, ...hint }));
}

/** What an unfilled macro is taken to mean: see {@link UnfilledMacro}. */
type Hint = Pick<UnfilledMacro, 'meant' | 'vendorMacro'>;

/**
 * Longest name a misspelling is looked for in: a name longer than any Tally fills (a vendor's
 * with a 6-digit id the longest) by more than {@link MAX_MACRO_EDITS} is near none.
 */
const MAX_MISSPELT_NAME_CHARS =
  Math.max(
    ...Object.keys(MACRO_FIELDS).map((name) => name.length),
    ...Object.keys(VENDOR_MACRO_FIELDS).map((name) => `${name}_999999`.length),
  ) + MAX_MACRO_EDITS;

/**
 * The macro Tally fills that one named `name` (with `suffix` after a `:`) most likely misspells or
 * cuts short: a vendor's privacy macro keeps its vendor id, the price its suffix; or, for a
 * vendor's privacy macro without its vendor id (misspelt or not), the name that needs one.
 */
function macroHint(name: string, suffix: string | undefined): Hint {
  const vendorNames = Object.keys(VENDOR_MACRO_FIELDS);
  const upper = name.toUpperCase();
  // `${GDPR_CONSENT}`, or with a placeholder for the id, `${GDPR_CONSENT_XXXX}`: not a vendor id of
  // at most 6 digits, as Tally fills it.
  const vendorless = vendorNames.find(
    (vendor) => upper === vendor || (upper.startsWith(`${vendor}_`) && !/_\d{1,6}$/.test(upper)),
  );
  if (vendorless !== undefined) return { vendorMacro: vendorless };
  if (name.length > MAX_MISSPELT_NAME_CHARS) return {};
  const withId = /^(?<vendor>.+)_(?<id>\d{1,6})$/.exec(name)?.groups;
  if (withId !== undefined) {
    const vendor = closestName(withId.vendor ?? '', vendorNames, MAX_MACRO_EDITS);
    if (vendor !== undefined) return { meant: `\${${vendor}_${withId.id}}` };
  }
  // A name cut short (`${AUCTION_SEAT}`), or cut within a word after a whole first one
  // (`${AUCTION_CUR}`), means the one name it begins, and none where it begins several
  // (`${AUCTION_IMP}`: `_ID` or `_TS`; `${GPP_}`: `${GPP_SID}` or a vendor's), though another name is
  // fewer edits away (`${AUCTION_MBR}`, 2 from `${AUCTION_CUR}`).
  const completions = upper.includes('_')
    ? [...Object.keys(MACRO_FIELDS), ...vendorNames].filter((known) => known.startsWith(upper))
    : Object.keys(MACRO_FIELDS).filter((known) => known.startsWith(`${upper}_`));
  const [completion] = completions;
  if (completions.length === 1 && completion !== undefined && vendorNames.includes(completion)) {
    return { vendorMacro: completion };
  }
  const meant =
    completions.length === 0
      ? closestName(name, Object.keys(MACRO_FIELDS), MAX_MACRO_EDITS)
      : completions.length === 1
        ? completions[0]
        : undefined;
  if (meant === undefined) {
    const misspeltVendor = closestName(name, vendorNames, MAX_MACRO_EDITS);
    return misspeltVendor === undefined ? {} : { vendorMacro: misspeltVendor };
  }
  return { meant: `\${${meant}${meant === 'AUCTION_PRICE' && suffix !== undefined ? `:${suffix}` : ''}}` };
}

/** The suffix of `${AUCTION_PRICE:B64}`, the price in Base64: OpenRTB's example of an encoding. */
export const BASE64_SUFFIX = 'B64';

/** Whether a price macro's suffix asks for Base64 (`B64`, or `b64` as OpenRTB 2.6 writes its code). */
export function isBase64Suffix(suffix: string): boolean {
  return suffix.toUpperCase() === BASE64_SUFFIX;
}

/** `${AUCTION_PRICE:SUFFIX}` (group 1 is the suffix). */
const SUFFIXED_PRICE_PATTERN = /\$\{AUCTION_PRICE:([A-Za-z0-9_.-]+)\}/g;

/**
 * Whether `text` holds a price macro asking for encryption such as `${AUCTION_PRICE:BF}`: any
 * suffix but Base64's.
 */
export function usesEncryptedPrice(text: string): boolean {
  for (const [, suffix = ''] of text.matchAll(SUFFIXED_PRICE_PATTERN))
    if (!isBase64Suffix(suffix)) return true;
  return false;
}

const MICROS_PER_UNIT = 1_000_000;
/**
 * Largest amount of money Tally takes in: 999999.999999 currency units, Xandr's limit for `ancost`;
 * prices (CPM), costs and fixed amounts alike.
 */
export const MAX_AMOUNT_MICROS = 999_999_999_999;

/**
 * Plain textual replacement of all OpenRTB 2.6 macros (§4.4): `${AUCTION_ID}`
 * `${AUCTION_BID_ID}` `${AUCTION_IMP_ID}` `${AUCTION_SEAT_ID}` `${AUCTION_AD_ID}`
 * `${AUCTION_PRICE}` `${AUCTION_CURRENCY}` `${AUCTION_MBR}` `${AUCTION_LOSS}`
 * `${AUCTION_MIN_TO_WIN}` `${AUCTION_MULTIPLIER}` `${AUCTION_IMP_TS}` `${AUCTION_DISCOUNT_PCT}`
 * `${AUCTION_DISCOUNT_CPM}`, and Index's `${SUPPLY_FEE}`; undefined values become `''`. Suffixed
 * price macros such as `${AUCTION_PRICE:BF}` are replaced by `encodePrice(suffix)` (e.g. an
 * encrypted price), which returns `''` when it cannot; without a callback they become `''`.
 * Non-macro text and unknown `${FOO}` macros are left untouched. Values are inserted as given (no
 * URL encoding), or as `escape` writes them, in a single pass: a value containing `${AUCTION_ID}`
 * is not expanded again. For URLs (a burl, a nurl); markup goes through
 * {@link substituteMacrosInMarkup}.
 */
export function substituteMacros(
  text: string,
  values: MacroValues,
  encodePrice?: (suffix: string) => string,
  escape: (value: string) => string = (value) => value,
): string {
  return text.replace(MACRO_PATTERN, macroFiller(values, encodePrice, escape));
}

/**
 * `text` with its privacy macros alone filled, each value as `escape` writes it: the others are
 * left for a later filling (the DSP's burl, sealed at registration, is filled when a notice counts).
 */
export function fillPrivacyMacros(
  text: string,
  values: MacroValues,
  escape: (value: string) => string,
): string {
  return text.replace(PRIVACY_MACRO_PATTERN, macroFiller(values, undefined, escape));
}

/** How many privacy macros `text` holds. */
export function countPrivacyMacros(text: string): number {
  return text.match(PRIVACY_MACRO_PATTERN)?.length ?? 0;
}

/** The `replace` callback filling a match of a {@link macroPattern} with its value, escaped. */
function macroFiller(
  values: MacroValues,
  encodePrice: ((suffix: string) => string) | undefined,
  escape: (value: string) => string,
): (...match: unknown[]) => string {
  return (...match) => {
    const { name, suffix, vendor } = match.at(-1) as Record<string, string | undefined>;
    if (suffix !== undefined) return escape(encodePrice?.(suffix) ?? '');
    const field =
      name !== undefined
        ? MACRO_FIELDS[name]
        : vendor === undefined
          ? undefined
          : VENDOR_MACRO_FIELDS[vendor];
    return escape((field === undefined ? undefined : values[field]) ?? '');
  };
}

/**
 * {@link substituteMacros} in ad markup, each value escaped for where it stands (see
 * {@link substituteInMarkup}): JSON-escaped in native JSON; XML-escaped in VAST outside CDATA
 * sections and as it is inside them; HTML-escaped in banner HTML outside comments and script
 * bodies. The markup stays valid, and its reader reads back the value itself, whatever characters
 * an exchange's ids hold; for ordinary values (prices, and ids of letters, digits, `_`, `.` and
 * `-`, no two hyphens in a row nor one at either end) the result is that of {@link substituteMacros}.
 */
export function substituteMacrosInMarkup(
  markup: string,
  language: MarkupLanguage,
  values: MacroValues,
  encodePrice?: (suffix: string) => string,
): string {
  return substituteInMarkup(markup, language, (text, escape) =>
    substituteMacros(text, values, encodePrice, escape),
  );
}

/**
 * Most characters one character (UTF-16 code unit) of a macro value becomes once escaped for
 * markup: a CR in a CDATA section, written `]]>&#13;<![CDATA[` (others: a quote in an `srcdoc`,
 * `&amp;quot;`; a lone surrogate in XML, `%EF%BF%BD`).
 */
const MAX_ESCAPED_CHARS_PER_CHAR = 17;

/**
 * At most how many characters {@link substituteMacrosInMarkup} adds to `markup` when it fills its
 * macros with `values`, and suffixed price macros with `encodedPriceChars` characters: an upper
 * bound, found without filling them, so that markup holding a great many macros can be refused
 * before it is built.
 */
export function macroGrowthBound(markup: string, values: MacroValues, encodedPriceChars: number): number {
  const longestValueChars = Math.max(
    encodedPriceChars,
    ...Object.values(values).map((value: string | undefined) => value?.length ?? 0),
  );
  const macros = markup.match(MACRO_PATTERN)?.length ?? 0;
  return macros * longestValueChars * MAX_ESCAPED_CHARS_PER_CHAR;
}

/**
 * Formats integer micros as a decimal currency amount without float error and without trailing
 * zeros: 1500000 → `'1.5'`, 2000000 → `'2'`, 1 → `'0.000001'`. Throws a `RangeError` unless
 * `micros` is a non-negative safe integer.
 */
export function formatMicros(micros: number): string {
  if (!Number.isSafeInteger(micros) || micros < 0) {
    throw new RangeError(`${micros} is not a non-negative safe integer`);
  }
  const whole = Math.floor(micros / MICROS_PER_UNIT);
  const fraction = micros % MICROS_PER_UNIT;
  if (fraction === 0) return String(whole);
  return `${whole}.${String(fraction).padStart(6, '0').replace(/0+$/, '')}`;
}

/**
 * A non-negative finite number's shortest round-trip decimal, written without an exponent:
 * 0.8 → `'0.8'`, 1e-7 → `'0.0000001'`, 1.5e-7 → `'0.00000015'`, 1e21 → `'1000000000000000000000'`.
 * (JavaScript writes numbers below 1e-6 or from 1e21 up with one, which a macro's reader may not parse.)
 */
export function formatPlainDecimal(value: number): string {
  const match = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(String(value));
  if (match === null) return String(value);
  const digits = (match[1] ?? '') + (match[2] ?? '');
  const exponent = Number(match[3]);
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${digits}`;
  return digits.padEnd(exponent + 1, '0');
}

/**
 * Parses a decimal amount (`'1.5'`, `'0.000001'`, `'999999.999999'`, and `'.5'` or `'5.'` as
 * people and ad servers also write them) into integer micros without float error. `undefined`
 * for anything malformed (signs, exponents, spaces, a lone `'.'`), more than 6 decimals, or
 * beyond `maxMicros` (default 999999999999).
 */
export function parseDecimalMicros(text: string, maxMicros = MAX_AMOUNT_MICROS): number | undefined {
  const match = /^(\d*)(?:\.(\d{0,6}))?$/.exec(text);
  if (match === null || (match[1] === '' && (match[2] ?? '') === '')) return undefined;
  const whole = Number(match[1]);
  const fraction = Number((match[2] ?? '').padEnd(6, '0'));
  const micros = whole * MICROS_PER_UNIT + fraction;
  return Number.isSafeInteger(micros) && micros <= maxMicros ? micros : undefined;
}

/**
 * Converts a JS number (e.g. JSON `bid.price` 1.23) into integer micros, rounding half up to the
 * nearest micro on the number's shortest decimal spelling (what the JSON said), so 1.23 →
 * 1230000 and 0.0000025 → 3. `undefined` for NaN, negative or non-finite values, or results
 * beyond `Number.MAX_SAFE_INTEGER`.
 */
export function numberToMicros(value: number): number | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined;
  // The shortest round-trip spelling of a finite non-negative number: '1.23', '1.5e-7', '1e+21'.
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  if (match === null) return undefined;
  const whole = match[1] ?? '';
  const digits = whole + (match[2] ?? '');
  // Digits before `cut` are whole micros; the digit at `cut` decides the rounding.
  const cut = whole.length + Number(match[3] ?? 0) + 6;
  const truncated = cut <= 0 ? 0 : Number(digits.slice(0, cut).padEnd(cut, '0'));
  const roundUp = cut >= 0 && (digits[cut] ?? '0') >= '5';
  const micros = truncated + (roundUp ? 1 : 0);
  return Number.isSafeInteger(micros) ? micros : undefined;
}
