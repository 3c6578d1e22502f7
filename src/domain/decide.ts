import type { HitRequest } from './hit-request.js';
import type { IvtFilter } from './ivt-filter.js';
import type { Device } from './read-device.js';
import { readDevice } from './read-device.js';
import { screenRequest } from './ivt.js';
import type { Outcome } from './outcome.js';
import { COUNTED, notCounted } from './outcome.js';
import { isPreviewQuery } from './preview.js';
import { isPastTtl } from './rules.js';
import type { NoticeClaims, OpenResult } from './token.js';

/** The decision on one notice, with what the ledger records beside it. */
interface NoticeDecision {
  outcome: Outcome;
  /** The win the notice is about; absent when the token did not open. */
  claims: NoticeClaims | undefined;
  device: Device;
}

/**
 * Decides one notice, purely: the opened token, the request, its query and the clock. Order:
 * invalid token, preview (test win, `AUDIT` macro values, `preview=1`), invalid traffic and
 * prefetch, a notice that is not the impression's counting method, then the TTL (a notice
 * exactly at the TTL still counts). Duplicates are for the ledger to decide.
 */
export function decideNotice(
  opened: OpenResult,
  request: HitRequest,
  query: URLSearchParams,
  nowMs: number,
  filter: IvtFilter,
): NoticeDecision {
  const device = readDevice(request, filter);
  if (!opened.ok) return { outcome: notCounted('invalid_token'), claims: undefined, device };
  const claims = opened.claims;
  return { outcome: decideOpened(claims, request, device, query, nowMs, filter), claims, device };
}

function decideOpened(
  claims: NoticeClaims,
  request: HitRequest,
  device: Device,
  query: URLSearchParams,
  nowMs: number,
  filter: IvtFilter,
): Outcome {
  if (claims.test || isPreviewQuery(query)) return notCounted('preview');
  // Web markup is rendered by a browser; anything else, and every burl, by an app or a server.
  const notifier = claims.channel === 'web' && claims.kind !== 'burl' ? 'browser' : 'app';
  const screened = screenRequest(request, device, filter, notifier);
  if (screened !== undefined) return screened;
  if (claims.kind !== claims.method) return notCounted('not_billing_method');
  if (isPastTtl(claims.auctionTimeMs, claims.ttlSeconds, nowMs)) return notCounted('late');
  return COUNTED;
}
