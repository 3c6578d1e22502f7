import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../lib/metrics.js';
import type { GroupCommitter } from './group-commit.js';
import { readNoticeRequest } from './read-notice.js';
import { recordOrRefuse } from './record.js';
import { sendNoContent, sendPixel, sendRedirect } from './responses.js';

/** What the notice endpoint needs; narrow on purpose (the hot path sees no control plane). */
export interface NoticeDeps {
  committer: GroupCommitter;
  metrics: Metrics;
  nowMs(): number;
}

/**
 * `GET /n/<token>?<query>`: hands the notice to the counting thread, which decides and records
 * it, and answers only after the commit. The answer is the same GIF (or 204 with `f=b`)
 * whatever the outcome, except Tally's burl: a counted notice there answers 302 to the DSP's
 * burl with its macros filled.
 */
export async function handleNotice(
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  query: string,
  deps: NoticeDeps,
): Promise<void> {
  const notice = readNoticeRequest(req, token, query, deps.nowMs());
  const recorded = await recordOrRefuse(deps.committer, deps.metrics, { notice }, res);
  if (recorded === undefined) return;
  if (recorded.redirectTo !== '') {
    sendRedirect(res, recorded.redirectTo);
  } else if (query !== '' && new URLSearchParams(query).get('f') === 'b') {
    sendNoContent(res);
  } else {
    sendPixel(res, req.method === 'HEAD');
  }
}
