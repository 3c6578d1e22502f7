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
  const gdpr = regs?.gdpr ?? regsExt?.gdpr;
  const gppSid = regs?.gpp_sid ?? regsExt?.gpp_sid;
  return {
    gdpr: gdpr === 0 || gdpr === 1 ? String(gdpr) : '',
    gdprConsent: text(user?.consent) ?? text(userExt?.consent) ?? '',
    usPrivacy: text(regs?.us_privacy) ?? text(regsExt?.us_privacy) ?? '',
    gppString: text(regs?.gpp) ?? text(regsExt?.gpp) ?? '',
    gppSid: Array.isArray(gppSid) && gppSid.every(Number.isInteger) ? gppSid.join(',') : '',
  };
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
  const regs = asObject((request as { regs?: unknown }).regs);
  const regsExt = asObject(regs?.ext);
  const given = (name: string) =>
    regs?.[name] !== undefined && regs[name] !== null
      ? { field: `regs.${name}`, value: regs[name] }
      : regsExt?.[name] !== undefined && regsExt[name] !== null
        ? { field: `regs.ext.${name}`, value: regsExt[name] }
        : undefined;
  const unread: UnreadPrivacySignal[] = [];
  const gdpr = given('gdpr');
  if (gdpr !== undefined && gdpr.value !== 0 && gdpr.value !== 1) {
    unread.push({ macro: '${GDPR}', ...gdpr, expected: '0 or 1, a number' });
  }
  const gppSid = given('gpp_sid');
  if (gppSid !== undefined && !(Array.isArray(gppSid.value) && gppSid.value.every(Number.isInteger))) {
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
