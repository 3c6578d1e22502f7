import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleApi } from '../control/api-handler.js';
import { answerAsteriskForm } from '../control/asterisk-form.js';
import { ApiError, retryLater } from '../control/api-error.js';
import { requestIdOf, sendError } from '../control/send.js';
import type { Router } from '../control/router.js';
import type { NoticeDeps } from '../hot/notices.js';
import { HIT_METHODS } from '../hot/responses.js';
import type { TrackerDeps } from '../hot/trackers.js';
import { answeredAfterClose, answersOwed, handToApi, UNREAD_REQUESTS_METRIC } from '../lib/client-error.js';
import { hostHeaderProblem } from '../lib/host-header.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { AccountStore } from '../ports/accounts.js';
import { answerHot, serveHot } from './hot-serving.js';
import { parseRequestUrl } from './request-url.js';
import type { ServingState } from './serving-state.js';

/** What node:http's requests are served from. */
export interface RequestSources {
  state: ServingState;
  noticeDeps: NoticeDeps;
  trackerDeps: TrackerDeps;
  router: Router;
  accounts: AccountStore;
  metrics: Metrics;
  log: Logger;
}

/**
 * node:http's request listener: a notice or tracker hit goes to the hot path, `OPTIONS *` is
 * answered with the server's methods, any other request to the API's router; a request no
 * answer could reach, or whose head is malformed, is refused before either.
 */
export function requestListener({
  state,
  noticeDeps,
  trackerDeps,
  router,
  accounts,
  metrics,
  log,
}: RequestSources): (req: IncomingMessage, res: ServerResponse) => void {
  /** What `OPTIONS *` lists in `Allow`: the methods of notices and of the API, and `OPTIONS`. */
  const serverMethods = [...new Set([...HIT_METHODS, ...router.methods(), 'OPTIONS'])].join(', ');
  /** Counts a request refused 400 before any route read it, as node:http's own 400s are. */
  const countUnreadRequest = (): void =>
    metrics.inc(UNREAD_REQUESTS_METRIC.name, UNREAD_REQUESTS_METRIC.help, { status: '400' });
  return (req, res) => {
    // A request pipelined behind an answer that ends the connection (once shutting down, the
    // first answer owed closes it) would never be answered, so it is neither served nor counted:
    // its client sends it again. (This request is not yet read whole.)
    if (answeredAfterClose(res) || (state.shuttingDown && answersOwed(req.socket) > 0)) {
      const message = state.shuttingDown
        ? 'Tally is shutting down: send the request again on a new connection'
        : 'an answer before this one closes the connection: send the request again on a new connection';
      sendError(res, retryLater('UNAVAILABLE', message), requestIdOf(req));
      return;
    }
    const hostProblem = hostHeaderProblem(req.rawHeaders, req.httpVersion);
    if (hostProblem !== undefined) {
      countUnreadRequest();
      sendError(res, new ApiError(400, 'MALFORMED_REQUEST', hostProblem), requestIdOf(req));
      return;
    }
    const target = req.url ?? '/';
    const hot = serveHot(req, res, target, noticeDeps, trackerDeps);
    if (hot !== undefined) return answerHot(req, res, hot, metrics, log);
    if (target === '*') return answerAsteriskForm(req, res, serverMethods, countUnreadRequest);
    const url = parseRequestUrl(target);
    if (url === undefined) {
      const message = 'the request target is not a valid URL path: percent-encode it';
      countUnreadRequest();
      sendError(res, new ApiError(400, 'MALFORMED_REQUEST', message), requestIdOf(req));
      return;
    }
    // A target in absolute form (`http://host/n/…`, which a server must accept) or with dot
    // segments (`/v1/../n/…`) names a notice or hit once normalised as the URL parser does.
    const normalised = target.startsWith('/') && !target.includes('/.') ? target : url.pathname + url.search;
    const hotNormalised =
      normalised === target ? undefined : serveHot(req, res, normalised, noticeDeps, trackerDeps);
    if (hotNormalised !== undefined) return answerHot(req, res, hotNormalised, metrics, log);
    handToApi(req);
    void handleApi(req, res, url, router, accounts, log, metrics);
  };
}
