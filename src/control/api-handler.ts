import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/log.js';
import type { CounterSink } from '../lib/metrics.js';
import type { AccountStore } from '../ports/accounts.js';
import { authenticate } from './auth.js';
import type { Router } from './router.js';
import { ApiError } from './api-error.js';
import { requestIdOf, sendError } from './send.js';
import { refuseAnyQuery, refuseMalformedQuery } from './query.js';
import { refuseUnacceptable } from './accept.js';

/** API calls answered 401: a key guessed, leaked and revoked, or a client misconfigured. */
export const API_AUTH_FAILURES_METRIC = {
  name: 'tally_api_auth_failures_total',
  help: 'API calls refused 401 UNAUTHENTICATED: no API key, or one unknown or revoked',
} as const;

/**
 * Serves one API request: finds its route, authenticates the caller (unless the route is
 * public), refuses an `Accept` accepting nothing the route answers (`refuseUnacceptable`), a
 * query with a malformed %-escape (unless the route ignores the query) and any query parameter
 * on a route that neither reads nor ignores the query, runs the handler, and
 * answers any error in the envelope, logging those that are not the caller's to fix (5xx and
 * anything not an `ApiError`): a call refused as Tally is busy (`backPressure`, to retry) as
 * `request_refused` at warn, any other as `request_failed` at error; and counting calls refused
 * 401 in `counters`.
 */
export async function handleApi(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  router: Router,
  accounts: AccountStore,
  log: Logger,
  counters: CounterSink,
): Promise<void> {
  const requestId = requestIdOf(req);
  /** Whether the route needs no API key: its 401s (a metrics key refused) are no API key's. */
  let publicRoute = false;
  try {
    const { route, params } = router.match(req.method ?? 'GET', url.pathname);
    publicRoute = route.public === true;
    const principal =
      route.public === true
        ? { accountId: 0, keyId: 0, role: 'reader' as const, scope: null }
        : authenticate(req, accounts);
    refuseUnacceptable(req.headers.accept, route.answers ?? []);
    if (route.ignoresQuery !== true) refuseMalformedQuery(url.search);
    if (route.ignoresQuery !== true && route.readsQuery !== true) refuseAnyQuery(route, url.searchParams);
    await route.handler({ req, res, url, params, requestId, principal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && !publicRoute) {
      counters.inc(API_AUTH_FAILURES_METRIC.name, API_AUTH_FAILURES_METRIC.help);
    }
    if (clientWentAway(error, req)) {
      // Not the server's failure: anyone can cause it, so it is no error in the logs.
      log.info('request_aborted', { requestId, method: req.method, path: url.pathname });
    } else if (error instanceof ApiError && error.backPressure) {
      // Tally works as it should, only busy: an error line for each call would page for nothing.
      log.warn('request_refused', {
        requestId,
        method: req.method,
        path: url.pathname,
        code: error.code,
        message: error.message,
      });
    } else if (!(error instanceof ApiError) || error.status >= 500) {
      log.error('request_failed', {
        requestId,
        method: req.method,
        path: url.pathname,
        error: String(error),
        ...(error instanceof Error && error.cause !== undefined
          ? { cause: error.cause instanceof Error ? error.cause.message : JSON.stringify(error.cause) }
          : {}),
      });
    }
    sendError(res, error, requestId);
  }
}

/** True for the error a request's body stream throws when the client closed the connection midway. */
function clientWentAway(error: unknown, req: IncomingMessage): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ECONNRESET' && req.readableAborted;
}
