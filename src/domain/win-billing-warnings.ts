/**
 * Warnings about how a win bills its DSP: a price rounded, above the bid or in an odd currency; a
 * DSP burl that can never be called, or that goes into the markup; a publisher burl asked for that
 * does not count. Pure.
 */
import { burlRefusal } from './burl-refusal.js';
import { KNOWN_CURRENCIES } from './known-currencies.js';
import { formatMicros } from './macros.js';
import type { CountingRule } from './rules.js';
import type { Channel, Format, Method } from './types.js';
import { cutAt, shown } from '../lib/shown.js';
import type { ParsedWin } from './win-parse.js';
import type { WinEnvironment } from './win.js';

/**
 * The warning for an app banner whose markup carries the DSP's burl: the device fires it, not
 * Tally, and on every render.
 */
export const BURL_IN_MARKUP_WARNING =
  "the DSP's burl goes into this app banner's markup beside Tally's pixel (the app offers no OMID, api 7, and publisherBurl is not set): the device fires it on every render, so the DSP may be billed for renders Tally does not count (repeats, invalid traffic, late ones); offer OMID or set publisherBurl to have Tally call it once per counted impression";

/**
 * Whether the publisher's burl, if asked for, must not count: an app banner whose bid has no burl
 * counts on OMID or on its markup, as Index counts it ("If you do not use burl, Index assumes that
 * your impression tracking URL is in the adm … we will not use burl for impression counting"), so
 * that it counts when the DSP's own tracker in the markup does, not when the publisher's SDK fires.
 */
export function ignoresPublisherBurl(format: Format, channel: Channel, dspBurl: string): boolean {
  return format === 'banner' && channel === 'app' && dspBurl === '';
}

/** `publisherBurl` asked for and not what counts: the publisher must not be told to fire a burl. */
export function publisherBurlWarnings(parsed: ParsedWin, rule: CountingRule, burlIgnored: boolean): string[] {
  if (!parsed.publisherBurl || rule.method === 'burl') return [];
  const why =
    rule.method === 'omid'
      ? 'the app supports OMID (api 7), which comes first'
      : burlIgnored
        ? "the bid has no burl: an app banner without one counts where the DSP's own tracker does, on its markup (as Index counts it)"
        : `the counting rules have no publisher burl for ${rule.format} on ${rule.channel}`;
  return [
    `publisherBurl is set but this win counts on its ${rule.method} notice, as ${why}: there is no Tally burl for the publisher to fire`,
  ];
}

/**
 * What is odd about the price a win bills, though it may be right: more decimals than a micro (it
 * is rounded), a clearing price above the bid (the DSP is billed more than it bid), a currency no
 * ISO 4217 code Tally knows (misspelt), a currency the request did not allow.
 */
export function priceWarnings(parsed: ParsedWin): string[] {
  const warnings: string[] = [];
  const { value, field } = parsed.priceSent;
  // Tally bills in micros: a price with more decimals is rounded to the nearest (a price above 0
  // rounded to 0 is, however far below EPSILON it is).
  const roundedToZero = value > 0 && parsed.priceMicros === 0;
  if (
    roundedToZero ||
    Math.abs(value - parsed.priceMicros / 1_000_000) > Number.EPSILON * Math.max(1, value)
  ) {
    warnings.push(
      `${field} ${String(value)} has more than 6 decimals: it is billed, and filled into the DSP's macros, as ${formatMicros(parsed.priceMicros)}`,
    );
  }
  if (parsed.bidMicros !== undefined && parsed.priceMicros > parsed.bidMicros) {
    warnings.push(
      `clearingPrice ${formatMicros(parsed.priceMicros)} is above bid.price ${formatMicros(parsed.bidMicros)}: the DSP is billed more than it bid`,
    );
  }
  // OpenRTB's cur is an array; a lone string is read as one currency rather than ignored.
  const cur: unknown = parsed.request.cur;
  const listed = Array.isArray(cur) ? (cur as unknown[]) : [cur];
  const allowed = listed.filter(
    (code): code is string => typeof code === 'string' && /^[A-Z]{3}$/.test(code),
  );
  if (!KNOWN_CURRENCIES.has(parsed.currency)) {
    warnings.push(
      `currency ${JSON.stringify(parsed.currency)} is no ISO 4217 currency Tally knows: the win is billed in ${parsed.currency}, reported apart from every other currency; check the code`,
    );
  }
  if (allowed.length > 0 && !allowed.includes(parsed.currency)) {
    const fix = parsed.currencySent ? 'check currency' : 'send currency (USD when absent)';
    warnings.push(
      `the win is billed in ${parsed.currency} but request.cur allows only ${allowed.join(', ')}: ${fix}`,
    );
  }
  return warnings;
}

/** Most characters of a DSP's URL that a warning about it quotes. */
export const MAX_QUOTED_URL_CHARS = 100;

/**
 * A DSP burl that can never bill the DSP, as the relay judges it (`burlRefusal`, on the burl with
 * this win's macros `filled`): one that is not a string or not a valid absolute http(s) URL, which
 * no one can call; and, where Tally relays it (`relayed`: not a burl in the markup, which the device
 * fires, nor one of a win that can never count), one naming an IP address the relay refuses. A host
 * name is looked up only when the burl is called.
 */
export function burlWarnings(
  sent: unknown,
  filled: string,
  relayed: boolean,
  method: Method,
  env: Pick<WinEnvironment, 'allowsBurlAddress'>,
): string[] {
  if (sent === undefined || sent === null || (typeof sent === 'string' && sent.trim() === '')) return [];
  if (typeof sent !== 'string') {
    return [
      `bid.burl is not a string but ${shown(sent)}: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ];
  }
  const refusal = burlRefusal(filled, (address) => env.allowsBurlAddress(address));
  if (refusal === undefined) return [];
  const burl = `bid.burl ${JSON.stringify(cutAt(sent, MAX_QUOTED_URL_CHARS))}`;
  if (refusal.kind === 'port_zero') {
    return [
      `${burl} names port 0, which no server listens on: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ];
  }
  if (refusal.kind !== 'address') {
    return [
      `${burl} is not a valid absolute http(s) URL: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ];
  }
  if (!relayed) return [];
  // A counted publisher burl may be answered with a 302 to it instead, which the relay does not call.
  const dead =
    method === 'burl'
      ? "unless the publisher's burl is answered with a 302 to it (the account's redirect allow-list admits its host, as it admits any while off), its delivery is dead as soon as the impression counts"
      : 'its delivery is dead as soon as the impression counts';
  return [
    `${burl} names ${refusal.address}, an address outside the public internet, which Tally's relay refuses to call: ${dead}, so the DSP's billing URL is never called and the DSP is not billed for this win; give the DSP's public host, or set TALLY_BURL_PRIVATE_NETWORKS=allow to call DSPs on private networks`,
  ];
}
