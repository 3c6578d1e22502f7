import type { MarkupLanguage } from './markup-escape.js';
import { substituteInMarkup } from './markup-escape.js';
import type { OrtbBid, OrtbBidRequest } from './openrtb.js';
import { asObject } from './openrtb.js';
import { MAX_ESCAPED_CHARS_PER_CHAR } from './macros.js';

/**
 * The privacy signals of a bid request, as the IAB's URL macros carry them to a DSP: `${GDPR}`
 * (`regs.gdpr`, 0 or 1), `${GDPR_CONSENT_<vendor id>}` (`user.consent`, the TCF string),
 * `${US_PRIVACY}` (`regs.us_privacy`), `${GPP_STRING_<vendor id>}` (`regs.gpp`) and `${GPP_SID}`
 * (`regs.gpp_sid`, its sections joined by commas); each from its OpenRTB 2.5 `ext` place when the
 * 2.6 one is absent, and empty when the request has none.
 */
export interface PrivacyValues {
  gdpr: string;
  gdprConsent: string;
  usPrivacy: string;
  gppString: string;
  gppSid: string;
}

/** A privacy macro: group 1 its name, without a vendor id. */
const PRIVACY_MACRO = /\$\{(GDPR|US_PRIVACY|GPP_SID|GDPR_CONSENT_\d{1,6}|GPP_STRING_\d{1,6})\}/g;

/** The request's privacy signals (see {@link PrivacyValues}). */
export function privacyValuesOf(request: OrtbBidRequest): PrivacyValues {
  const regs = asObject((request as { regs?: unknown }).regs);
  const user = asObject((request as { user?: unknown }).user);
  const regsExt = asObject(regs?.ext);
  const userExt = asObject(user?.ext);
  const gdpr = regs?.gdpr ?? regsExt?.gdpr;
  const gppSid = regs?.gpp_sid;
  return {
    gdpr: gdpr === 0 || gdpr === 1 ? String(gdpr) : '',
    gdprConsent: text(user?.consent) ?? text(userExt?.consent) ?? '',
    usPrivacy: text(regs?.us_privacy) ?? text(regsExt?.us_privacy) ?? '',
    gppString: text(regs?.gpp) ?? '',
    gppSid: Array.isArray(gppSid) && gppSid.every(Number.isInteger) ? gppSid.join(',') : '',
  };
}

/** `text` with its privacy macros filled, each value as `escape` writes it; nothing else changed. */
export function fillPrivacyMacros(
  text: string,
  values: PrivacyValues,
  escape: (value: string) => string,
): string {
  return text.replace(PRIVACY_MACRO, (_macro, name: string) => escape(privacyValue(name, values)));
}

/**
 * The bid with the privacy macros of its burl, nurl and markup filled from the request, once, as
 * Tally registers it (the DSP's burl is sealed so into the notice token): in the URLs each value
 * percent-encoded, in the markup escaped for where it stands (see `substituteInMarkup`).
 */
export function withPrivacyMacrosFilled(
  bid: OrtbBid,
  request: OrtbBidRequest,
  markupLanguage: MarkupLanguage,
): OrtbBid {
  const holds = (value: unknown): value is string =>
    typeof value === 'string' && PRIVACY_MACRO_TEST.test(value);
  if (!holds(bid.burl) && !holds(bid.nurl) && !holds(bid.adm)) return bid;
  const values = privacyValuesOf(request);
  const url = (value: unknown) =>
    holds(value) ? fillPrivacyMacros(value, values, encodeURIComponent) : value;
  return {
    ...bid,
    burl: url(bid.burl),
    nurl: url(bid.nurl),
    adm: holds(bid.adm)
      ? substituteInMarkup(bid.adm, markupLanguage, (part, escape) => fillPrivacyMacros(part, values, escape))
      : bid.adm,
  };
}

/**
 * At most how many characters filling the privacy macros of the bid's burl, nurl and markup adds to
 * them: found without filling them, so that a bid naming a long consent string in a great many
 * macros can be refused before its markup is built.
 */
export function privacyMacroGrowthBound(bid: OrtbBid, request: OrtbBidRequest): number {
  const texts = [bid.burl, bid.nurl, bid.adm].filter((value): value is string => typeof value === 'string');
  const macros = texts.reduce((count, value) => count + (value.match(PRIVACY_MACRO)?.length ?? 0), 0);
  if (macros === 0) return 0;
  const longest = Math.max(...Object.values(privacyValuesOf(request)).map((value: string) => value.length));
  return macros * longest * MAX_ESCAPED_CHARS_PER_CHAR;
}

/** Whether a text holds a privacy macro (no `g` flag: no state between tests). */
const PRIVACY_MACRO_TEST = new RegExp(PRIVACY_MACRO.source);

function privacyValue(name: string, values: PrivacyValues): string {
  if (name === 'GDPR') return values.gdpr;
  if (name === 'US_PRIVACY') return values.usPrivacy;
  if (name === 'GPP_SID') return values.gppSid;
  return name.startsWith('GDPR_CONSENT_') ? values.gdprConsent : values.gppString;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
