import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NoticeRequest } from '../domain/notice-request.js';
import type { Metrics } from '../lib/metrics.js';
import type { GroupCommitter } from './group-commit.js';
import type { NoticeAnswer } from './notice-answer.js';
import { NO_CONTENT, PIXEL, sendAnswerOf, UNAVAILABLE } from './notice-answer.js';
import type { LaneRequest } from './lane-request.js';
import { NOTICE_PREFIX } from './lane-request.js';
import type { NoticeEnvironment } from './notice-event.js';
import { noticeEvent } from './notice-event.js';
import { readNoticeRequest, ruleHeaders } from './read-notice.js';
import { commitThen } from './record.js';
import { refusedHitMethod } from './responses.js';

/** What the notice endpoint needs; narrow on purpose (the hot path sees no control plane). */
export interface NoticeDeps {
  committer: GroupCommitter;
  metrics: Metrics;
  /** The token keys, IVT filter, price keys and redirect allow-lists notices are decided with. */
  env: NoticeEnvironment;
  nowMs(): number;
}

/**
 * Opens the notice's token and decides it here, on the HTTP thread (the counting thread only
 * commits, so that the two share the work), hands the event to the group committer and calls
 * `done` with the answer once it is committed: the same GIF (or 204 with `f=b`) whatever the
 * outcome, except Tally's burl, where a notice that counted answers 302 to the DSP's burl with its
 * macros filled, and so does a repeat of it (`duplicateOfRedirect`: the publisher retrying), to the
 * URL the count's 302 named, whichever registration of the win it comes through, while the
 * account's allow-list admits the DSP's host (else the ledger queues that burl and the repeat gets
 * the GIF); 503 when it could not be committed.
 */
export function answerNotice(
  notice: NoticeRequest,
  deps: NoticeDeps,
  done: (answer: NoticeAnswer) => void,
): void {
  const { event, redirectIfCounted, redirectOfRepeat, beacon } = noticeEvent(notice, deps.env);
  commitThen(deps.committer, deps.metrics, event, (outcome) => {
    if (outcome === undefined) done(UNAVAILABLE);
    else if (redirectIfCounted !== '' && outcome.outcome === 'counted')
      done({ kind: 'redirect', location: redirectIfCounted });
    else if (redirectOfRepeat !== undefined && 'redirectedToDsp' in outcome)
      done({ kind: 'redirect', location: outcome.location ?? redirectOfRepeat(outcome.impressionMs) });
    else done(beacon ? NO_CONTENT : PIXEL);
  });
}

/** `GET /n/<token>?<query>` through node:http (the notice lane serves most of them itself). */
export function handleNotice(
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  query: string,
  deps: NoticeDeps,
): Promise<void> {
  if (refusedHitMethod(res, req.method, deps.metrics, 'notice')) return Promise.resolve();
  return sendAnswerOf(req, res, (done) =>
    answerNotice(readNoticeRequest(req, token, query, deps.nowMs()), deps, done),
  );
}

/** The facts of a notice the notice lane read. */
export function laneNotice(request: LaneRequest, remoteAddress: string, receivedMs: number): NoticeRequest {
  const { target } = request;
  const queryAt = target.indexOf('?');
  return {
    token: target.slice(NOTICE_PREFIX.length, queryAt === -1 ? undefined : queryAt),
    query: queryAt === -1 ? '' : target.slice(queryAt + 1),
    method: request.method,
    headers: ruleHeaders(request.rawHeaders),
    remoteAddress,
    receivedMs,
  };
}
