import { decideNotice } from '../domain/decide.js';
import type { IvtFilter } from '../domain/ivt-filter.js';
import type { NoticeRequest } from '../domain/notice-request.js';
import type { PriceKeys } from '../domain/price-crypto.js';
import type { RedirectAllowList } from '../domain/tracker-hit.js';
import { allowsRedirectTo } from '../domain/tracker-hit.js';
import type { KeyRing, NoticeClaims } from '../domain/token.js';
import { openToken } from '../domain/token.js';
import { filledDspUrl } from '../domain/dsp-macros.js';
import { impressionKey } from '../domain/impression-key.js';
import { vastErrorCode } from '../domain/vast-error-code.js';
import { HOUR_MS, hourStartMs } from '../lib/time.js';
import { OPERATOR_ACCOUNT_ID } from '../ports/accounts.js';
import type { EventRecord } from '../ports/ledger.js';
import { EMPTY_DIMENSIONS } from '../ports/ledger.js';
import { redirectTarget } from './responses.js';

/**
 * The DSP's burl is relayed until three hours after the auction; or, for an impression whose TTL
 * is longer than that (a `TALLY_RULES` override), until three hours after its notice arrived.
 */
export const DELIVERY_WINDOW_MS = 3 * HOUR_MS;

/** What deciding a notice needs besides the request. */
export interface NoticeEnvironment {
  keyRing: KeyRing;
  ivtFilter: IvtFilter;
  /** An account's keys for a seat's `${AUCTION_PRICE:…}` encrypted price macros. */
  priceKeysFor(accountId: number, seat: string): PriceKeys | undefined;
  /** The account's redirect allow-list, which Tally's burl redirects to the DSP's within too. */
  redirectAllowlist(accountId: number): RedirectAllowList;
}

/** A decided notice: the event to record, and where to redirect should it count. */
interface NoticeEvent {
  event: EventRecord;
  /**
   * On Tally's burl, the DSP's burl (macros filled) to answer 302 to when the notice counts;
   * '' elsewhere, and when the DSP's burl is unfit for a Location header (it then goes to the
   * outbox instead).
   */
  redirectIfCounted: string;
  /** Whether the notice asks for a 204 rather than the GIF (`f=b`, a beacon's). */
  beacon: boolean;
  /**
   * Where a repeat of a count that redirected (`duplicateOfRedirect`) is sent when the ledger kept
   * no URL of that count's 302 (a count recorded before it kept one): the DSP's burl with
   * `${AUCTION_IMP_TS}` the counted impression's time, as every repeat must bill the one impression.
   */
  redirectOfRepeat?: (impressionMs: number) => string;
}

/** A percent-escape (`%2D`) in a notice's path. */
const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})/g;
/** The characters of a token (base64url). */
const TOKEN_CHARACTER = /^[A-Za-z0-9_-]$/;

/**
 * The token and query of a notice URL as a client may have changed it: a query added with `&`
 * rather than `?` (a cachebuster appended blindly, `/n/<token>&cb=123`), or a `/` after the token.
 * No token holds either character. A token character written as a percent-escape (`%2D` for `-`,
 * by an encoder that escapes more than it must) is that character: RFC 3986 §6.2.2.2 makes the two
 * URLs the same.
 */
function noticeTarget(request: NoticeRequest): { token: string; query: string } {
  const { query } = request;
  const token = request.token.includes('%')
    ? request.token.replace(PERCENT_ESCAPE, (escape: string, hex: string) => {
        const character = String.fromCharCode(Number.parseInt(hex, 16));
        return TOKEN_CHARACTER.test(character) ? character : escape;
      })
    : request.token;
  const ampersandAt = token.indexOf('&');
  const path = ampersandAt === -1 ? token : token.slice(0, ampersandAt);
  const bare = path.endsWith('/') ? path.slice(0, -1) : path;
  if (ampersandAt === -1) return { token: bare, query };
  const appended = token.slice(ampersandAt + 1);
  return { token: bare, query: query === '' ? appended : `${appended}&${query}` };
}

/** Opens the token and decides the notice, with the event the ledger records for it. */
export function noticeEvent(request: NoticeRequest, env: NoticeEnvironment): NoticeEvent {
  const nowMs = request.receivedMs;
  const { token, query } = noticeTarget(request);
  const params = new URLSearchParams(query);
  const decision = decideNotice(openToken(token, env.keyRing), request, params, nowMs, env.ivtFilter);
  const beacon = params.get('f') === 'b';
  const { claims, device } = decision;
  const dspBurl = claims === undefined ? '' : filledBurl(claims, nowMs, env);
  // A burl the account's allow-list does not let Tally redirect to is called from the outbox.
  const location = claims?.kind === 'burl' && dspBurl !== '' ? redirectTarget(dspBurl) : undefined;
  const relayByRedirect =
    location !== undefined &&
    claims !== undefined &&
    allowsRedirectTo(env.redirectAllowlist(claims.accountId), dspBurl);
  const event: EventRecord = {
    receivedMs: nowMs,
    servedHourMs: hourStartMs(claims?.auctionTimeMs ?? nowMs),
    outcome: decision.outcome,
    dims:
      claims === undefined
        ? { ...EMPTY_DIMENSIONS, accountId: OPERATOR_ACCOUNT_ID }
        : // Written out rather than spread from EMPTY_DIMENSIONS: a spread takes V8's slow
          // object-cloning path on every notice, a literal builds one shape.
          {
            accountId: claims.accountId,
            impressionType: 'exchange',
            kind: claims.kind,
            format: claims.format,
            channel: claims.channel,
            method: claims.method,
            seat: claims.seat,
            publisher: claims.publisherId,
            auctionId: claims.auctionId,
            impId: claims.impId,
            bidId: claims.bidId,
            currency: claims.currency,
            advertiserId: 0,
            lineItemId: 0,
            trackerId: 0,
            placementId: 0,
            paymentRuleId: 0,
            cachebusterMissing: false,
            // Only a VAST error notice carries a code: `e` on any other notice is not read.
            vastError: claims.kind === 'vast_error' ? vastErrorCode(params) : null,
          },
    priceMicros: claims?.priceMicros ?? 0,
    mediaCostMicros: 0,
    revenueMicros: 0,
    deviceIp: device.ip,
    userAgent: device.userAgent,
  };
  if (claims !== undefined) {
    event.dedupe = { key: impressionKey(claims), expiresMs: claims.auctionTimeMs + claims.ttlSeconds * 1000 };
    if (relayByRedirect) {
      // Kept as sent, so that a second count of the impression (its claim expired, the win
      // registered again) is a duplicate, redirected again, not a second bill.
      event.delivery = { url: location, deadlineMs: nowMs, redirected: true };
    } else if (dspBurl !== '') {
      // A TTL longer than the window lets a notice count after it: it gets the window of its own.
      const windowFromMs = claims.ttlSeconds * 1000 > DELIVERY_WINDOW_MS ? nowMs : claims.auctionTimeMs;
      event.delivery = { url: dspBurl, deadlineMs: windowFromMs + DELIVERY_WINDOW_MS };
    }
  }
  if (!relayByRedirect) return { event, redirectIfCounted: '', beacon };
  return {
    event,
    redirectIfCounted: location,
    beacon,
    // The same burl but for its impression's time, digits: as fit for a Location header.
    redirectOfRepeat: (impressionMs) => {
      const repeat = filledBurl(claims, impressionMs, env);
      return redirectTarget(repeat) ?? repeat;
    },
  };
}

/** The DSP's burl, filled for the impression at `impressionMs` (see `filledDspUrl`), or '' without one. */
function filledBurl(claims: NoticeClaims, impressionMs: number, env: NoticeEnvironment): string {
  return claims.dspBurl === '' ? '' : filledDspUrl(claims.dspBurl, claims, env, impressionMs, impressionMs);
}
