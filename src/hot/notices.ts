import type { IncomingMessage, ServerResponse } from 'node:http';
import { decideNotice } from '../domain/decide.js';
import type { IvtFilter } from '../domain/ivt.js';
import { substituteMacros } from '../domain/macros.js';
import type { PriceKeys } from '../domain/price-crypto.js';
import type { KeyRing, NoticeClaims } from '../domain/token.js';
import { openToken } from '../domain/token.js';
import { encodedPrice, macroValues } from '../domain/win.js';
import type { Metrics } from '../lib/metrics.js';
import { OPERATOR_ACCOUNT_ID } from '../ports/accounts.js';
import type { EventRecord } from '../ports/ledger.js';
import { EMPTY_DIMENSIONS } from '../ports/ledger.js';
import { HOUR_MS, hourStartMs } from '../lib/time.js';
import type { GroupCommitter } from './group-commit.js';
import { recordOrRefuse } from './record.js';
import { isSafeRedirectTarget, sendNoContent, sendPixel, sendRedirect } from './responses.js';

/** The DSP's burl is relayed until three hours after the auction. */
export const DELIVERY_WINDOW_MS = 3 * HOUR_MS;

/** What the notice endpoint needs; narrow on purpose (the hot path sees no control plane). */
export interface NoticeDeps {
  keyRing: KeyRing;
  ivtFilter(): IvtFilter;
  committer: GroupCommitter;
  metrics: Metrics;
  priceKeysFor(seat: string): PriceKeys | undefined;
  nowMs(): number;
}

/**
 * `GET /n/<token>?<query>`: decides the notice, records it, and answers only after the commit. The
 * answer is the same GIF (or 204 with `f=b`) whatever the outcome, except Tally's burl: a
 * counted notice there answers 302 to the DSP's burl with its macros filled.
 */
export async function handleNotice(
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  query: URLSearchParams,
  deps: NoticeDeps,
): Promise<void> {
  const nowMs = deps.nowMs();
  const decision = decideNotice(
    openToken(token, deps.keyRing),
    { method: req.method ?? 'GET', headers: req.headers, remoteAddress: req.socket.remoteAddress ?? '' },
    query,
    nowMs,
    deps.ivtFilter(),
  );
  const { claims, device } = decision;
  const dspBurl = claims === undefined ? '' : filledBurl(claims, nowMs, deps);
  // Tally's burl answers 302 to the DSP's; a target unfit for a Location header goes to the outbox.
  const relayByRedirect = claims?.kind === 'burl' && dspBurl !== '' && isSafeRedirectTarget(dspBurl);
  const event: EventRecord = {
    receivedMs: nowMs,
    servedHourMs: hourStartMs(claims?.auctionTimeMs ?? nowMs),
    outcome: decision.outcome,
    dims:
      claims === undefined
        ? { ...EMPTY_DIMENSIONS, accountId: OPERATOR_ACCOUNT_ID }
        : {
            ...EMPTY_DIMENSIONS,
            accountId: claims.accountId,
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
          },
    priceMicros: claims?.priceMicros ?? 0,
    mediaCostMicros: 0,
    revenueMicros: 0,
    deviceIp: device.ip,
    userAgent: device.userAgent,
  };
  if (claims !== undefined) {
    event.dedupe = { key: impressionKey(claims), expiresMs: claims.auctionTimeMs + claims.ttlSeconds * 1000 };
    if (dspBurl !== '' && !relayByRedirect) {
      event.delivery = { url: dspBurl, deadlineMs: claims.auctionTimeMs + DELIVERY_WINDOW_MS };
    }
  }
  const outcome = await recordOrRefuse(deps.committer, deps.metrics, event, res);
  if (outcome === undefined) return;
  if (relayByRedirect && outcome.outcome === 'counted') {
    sendRedirect(res, dspBurl);
  } else if (query.get('f') === 'b') {
    sendNoContent(res);
  } else {
    sendPixel(res, req.method === 'HEAD');
  }
}

/** One count per impression, whichever method: account, auction, imp, bid and seat. */
export function impressionKey(claims: NoticeClaims): string {
  return ['x', claims.accountId, claims.auctionId, claims.impId, claims.bidId, claims.seat].join('\u001f');
}

function filledBurl(claims: NoticeClaims, nowMs: number, deps: NoticeDeps): string {
  if (claims.dspBurl === '') return '';
  return substituteMacros(claims.dspBurl, macroValues(claims, undefined, nowMs), (suffix) =>
    encodedPrice(suffix, claims, deps),
  );
}
