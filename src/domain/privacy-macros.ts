import type { MacroValues } from './macros.js';
import { countPrivacyMacros, fillPrivacyMacros } from './macros.js';
import type { OrtbBid, OrtbBidRequest } from './openrtb.js';
import { asObject } from './openrtb.js';

/**
 * The privacy signals of a bid request, as the IAB's URL macros carry them to a DSP: `${GDPR}`
 * (`regs.gdpr`, 0 or 1), `${GDPR_CONSENT_<vendor id>}` (`user.consent`, the TCF string),
 * `${US_PRIVACY}` (`regs.us_privacy`), `${GPP_STRING_<vendor id>}` (`regs.gpp`) and `${GPP_SID}`
 * (`regs.gpp_sid`, its sections joined by commas); each from its OpenRTB 2.5 `ext` place when the
 * 2.6 one is absent, and empty when the request has none.
 */
type PrivacyValues = Required<
  Pick<MacroValues, 'gdpr' | 'gdprConsent' | 'usPrivacy' | 'gppString' | 'gppSid'>
>;

/** The request's privacy signals (see {@link PrivacyValues}). */
export function privacyValuesOf(request: OrtbBidRequest): PrivacyValues {
  const regs = asObject((request as { regs?: unknown }).regs);
  const user = asObject((request as { user?: unknown }).user);
  const regsExt = asObject(regs?.ext);
  const userExt = asObject(user?.ext);
  const gdpr = regsSignal(request, 'gdpr')?.value;
  const gppSid = regsSignal(request, 'gpp_sid')?.value;
  return {
    gdpr: isGdprFlag(gdpr) ? String(gdpr) : '',
    gdprConsent: text(user?.consent) ?? text(userExt?.consent) ?? '',
    usPrivacy: text(regs?.us_privacy) ?? text(regsExt?.us_privacy) ?? '',
    gppString: text(regs?.gpp) ?? text(regsExt?.gpp) ?? '',
    gppSid: isGppSectionList(gppSid) ? gppSid.join(',') : '',
  };
}

/** `regs.gdpr` as OpenRTB gives it, which `${GDPR}` carries: 0 or 1, a number. */
function isGdprFlag(value: unknown): value is 0 | 1 {
  return value === 0 || value === 1;
}

/** `regs.gpp_sid` as OpenRTB gives it, which `${GPP_SID}` carries: an array of whole numbers. */
function isGppSectionList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(Number.isInteger);
}

/**
 * Where and what the request gives a `regs` signal: its OpenRTB 2.6 place (`regs.gdpr`), else its
 * 2.5 one (`regs.ext.gdpr`); `undefined` when neither holds a value other than null.
 */
function regsSignal(request: OrtbBidRequest, name: string): { field: string; value: unknown } | undefined {
  const regs = asObject((request as { regs?: unknown }).regs);
  const regsExt = asObject(regs?.ext);
  if (regs?.[name] !== undefined && regs[name] !== null) return { field: `regs.${name}`, value: regs[name] };
  if (regsExt?.[name] !== undefined && regsExt[name] !== null)
    return { field: `regs.ext.${name}`, value: regsExt[name] };
  return undefined;
}

/** A privacy signal the request gives in a form its macro cannot carry: the macro is filled empty. */
interface UnreadPrivacySignal {
  /** The macro filled empty for want of a value. */
  macro: '${GDPR}' | '${GPP_SID}';
  /** Where the request gives the signal (`regs.gdpr`, `regs.ext.gdpr`…). */
  field: string;
  /** The value the request gives there. */
  value: unknown;
  /** The form OpenRTB gives the signal in. */
  expected: string;
}

/**
 * The signals `privacyValuesOf` reads as none though the request gives them, in another form than
 * OpenRTB's (`regs.gdpr` "1", `regs.gpp_sid` "2,6"): their macros are filled empty.
 */
export function unreadPrivacySignals(request: OrtbBidRequest): UnreadPrivacySignal[] {
  const unread: UnreadPrivacySignal[] = [];
  const gdpr = regsSignal(request, 'gdpr');
  if (gdpr !== undefined && !isGdprFlag(gdpr.value)) {
    unread.push({ macro: '${GDPR}', ...gdpr, expected: '0 or 1, a number' });
  }
  const gppSid = regsSignal(request, 'gpp_sid');
  if (gppSid !== undefined && !isGppSectionList(gppSid.value)) {
    unread.push({ macro: '${GPP_SID}', ...gppSid, expected: 'an array of section ids, whole numbers' });
  }
  return unread;
}

/**
 * The bid with the privacy macros of its burl and nurl filled from the request, each value
 * percent-encoded (so that it holds no `${` a later filling would read as a macro), once, as Tally
 * registers it: the DSP's burl is sealed so into the notice token. Its markup's are filled with the
 * auction macros, in the same pass (see `substituteMacrosInMarkup`).
 */
export function withPrivacyMacrosInUrls(bid: OrtbBid, values: PrivacyValues): OrtbBid {
  const url = (value: unknown) =>
    typeof value === 'string' && countPrivacyMacros(value) > 0
      ? fillPrivacyMacros(value, values, encodeURIComponent)
      : value;
  const burl = url(bid.burl);
  const nurl = url(bid.nurl);
  return burl === bid.burl && nurl === bid.nurl ? bid : { ...bid, burl, nurl };
}

/**
 * At most how many characters filling the privacy macros of the bid's burl and nurl adds to them:
 * found without filling them, so that a bid naming a long consent string in a great many macros
 * can be refused before they are built (the markup's are bounded with the auction macros').
 */
export function privacyMacroGrowthBound(bid: OrtbBid, values: PrivacyValues): number {
  const texts = [bid.burl, bid.nurl].filter((value): value is string => typeof value === 'string');
  const macros = texts.reduce((count, value) => count + countPrivacyMacros(value), 0);
  if (macros === 0) return 0;
  const longest = Math.max(...Object.values(values).map((value: string) => value.length));
  return macros * longest * PERCENT_ENCODED_CHARS_PER_CHAR;
}

/** Most characters percent-encoding writes for one UTF-16 code unit (`%E2%80%A8`). */
const PERCENT_ENCODED_CHARS_PER_CHAR = 9;

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
