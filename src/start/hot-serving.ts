import type { IncomingMessage, ServerResponse } from 'node:http';
import { continueIfOwed } from '../control/expect-continue.js';
import type { TrackerKind } from '../domain/tracker-hit.js';
import { HIT_FAILED, hitImpressionType } from '../hot/lane-serve.js';
import { loggedTarget } from '../hot/logged-target.js';
import { sendNoticeAnswer } from '../hot/notice-answer.js';
import { handleNotice } from '../hot/notices.js';
import type { NoticeDeps } from '../hot/notices.js';
import { countRefused } from '../hot/record.js';
import { withPrefixDecoded } from '../hot/target-prefix.js';
import { handleTrackerHit } from '../hot/trackers.js';
import type { TrackerDeps } from '../hot/trackers.js';
import { handToHot } from '../lib/client-error.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';

/** A notice or tracker hit being served through node:http, and which of them it is. */
export interface HotServing {
  endpoint: 'notice' | TrackerKind;
  /** Settles once it is answered; rejects when it failed before it was (it was then not recorded). */
  served: Promise<void>;
}

/**
 * The hot path: notices and tracker hits, served without the control plane's routing, auth
 * or URL parsing (the path is matched as sent, but for the escapes of unreserved characters in
 * its prefix, as the notice lane matches it: see `withPrefixDecoded`; tracker hits read their
 * raw query). Serves the request when `sentTarget` names a notice or hit; else `undefined`.
 */
export function serveHot(
  req: IncomingMessage,
  res: ServerResponse,
  sentTarget: string,
  noticeDeps: NoticeDeps,
  trackerDeps: TrackerDeps,
): HotServing | undefined {
  const target = withPrefixDecoded(sentTarget);
  const queryAt = target.indexOf('?');
  const pathname = queryAt === -1 ? target : target.slice(0, queryAt);
  if (pathname.startsWith('/n/')) {
    const query = queryAt === -1 ? '' : target.slice(queryAt + 1);
    return {
      endpoint: 'notice',
      served: whenReadWhole(req, () =>
        handleNotice(req, res, pathname.slice('/n/'.length), query, noticeDeps),
      ),
    };
  }
  if (pathname === '/imptr')
    return {
      endpoint: 'impression',
      served: whenReadWhole(req, () => handleTrackerHit('impression', req, res, trackerDeps)),
    };
  if (pathname === '/clktr')
    return {
      endpoint: 'click',
      served: whenReadWhole(req, () => handleTrackerHit('click', req, res, trackerDeps)),
    };
  return undefined;
}

/**
 * Answers 503 for a notice or hit that failed (it was not recorded), counted in
 * `tally_notices_refused_total` as `failed`, and logs why.
 */
export function answerHot(
  req: IncomingMessage,
  res: ServerResponse,
  hot: HotServing,
  metrics: Metrics,
  log: Logger,
): void {
  hot.served.catch((error: unknown) => {
    log.error('hit_failed', { path: loggedTarget(req.url ?? '/'), error: String(error) });
    if (res.headersSent) return;
    countRefused(metrics, hitImpressionType(hot.endpoint), 'failed');
    sendNoticeAnswer(res, HIT_FAILED, req.method === 'HEAD');
  });
}

/**
 * Runs `serve` (a notice or hit through node:http) at once, or, for a request whose body comes in
 * a `Transfer-Encoding`, once that body is read whole, discarded. llhttp refuses some such
 * requests only after their head was handed on (a coding other than chunked, a malformed chunk):
 * they are answered 400 (see `answerClientError`), so they must not be recorded, as they would be
 * were they served from their head. (A `Content-Length` body cannot be malformed: its notice is
 * served from its head, and answered as served should its client end its side before the body is
 * whole: see `handToHot`.) A client that waits for `100 Continue` is sent it first, body or none,
 * once the answers before its request on the connection are: the request is served only then.
 */
function whenReadWhole(req: IncomingMessage, serve: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const served = (): void => {
      handToHot(req);
      serve().then(resolve, reject);
    };
    // Told to send it even with no body to come, and served only once told: answered while queued
    // behind another answer, without it, node:http would close the connection after the answer,
    // dropping the answers to the notices pipelined behind it, served and recorded meanwhile. (One
    // whose connection closes before its turn is never served: its answer could not be written.)
    continueIfOwed(req, () => {
      if (req.headers['transfer-encoding'] === undefined) return served();
      req.once('end', served);
      req.resume();
    });
  });
}
