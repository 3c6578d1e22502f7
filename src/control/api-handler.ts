import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/log.js';
import type { CounterSink } from '../lib/metrics.js';
import type { AccountStore } from '../ports/accounts.js';
import { authenticate } from './auth.js';
import type { Router } from './router.js';
import type { ErrorCode } from './api-error.js';
import { apiErrorOf, requestIdOf, sendError } from './send.js';
import { refuseAnyQuery, refuseMalformedQuery } from './query.js';
import { refuseUnacceptable } from './accept.js';

/**
 * API calls answered 401, by the key asked for (`key`): `api`, an API key missing, unknown or
 * revoked (a key guessed, leaked and revoked, or a client misconfigured); `metrics`, a `/metrics`
 * scrape without the metrics key or with another (a scraper misconfigured, or the key guessed at).
 */
export const API_AUTH_FAILURES_METRIC = {
  name: 'tally_api_auth_failures_total',
  help: 'API calls refused 401 UNAUTHENTICATED, by the key asked for: api (no API key, or one unknown or revoked) or metrics (a /metrics scrape without TALLY_METRICS_KEY)',
  keys: ['api', 'metrics'],
} as const;

/**
 * API calls answered with an error, by its code (`code`): every error a route of the API's router
 * ends a call with, 4xx and 5xx alike, a refusal to retry included (not `/readyz`'s 503, which is
 * the answer it gives, its state shown by `tally_ready`); a call cut off by a failure after its
 * answer began counts under the code it would have been answered with. A call whose client went
 * away is not counted (nobody was answered), nor a request refused before any route read it
 * (`tally_unread_requests_total`). Shown at 0 from the start for the codes of Tally's own failures
 * and refusals, which alerts are written on.
 */
export const API_ERRORS_METRIC = {
  name: 'tally_api_errors_total',
  help: 'API calls answered with an error, by its code: 4xx and 5xx alike, refusals to retry (503 UNAVAILABLE) included',
  codesShownFromZero: ['INTERNAL', 'MAIL_FAILED', 'UNAVAILABLE'],
} as const satisfies { name: string; help: string; codesShownFromZero: readonly ErrorCode[] };

/** Counts one API call answered with the error `code` in {@link API_ERRORS_METRIC}. */
function countApiError(counters: CounterSink, code: ErrorCode): void {
  counters.inc(API_ERRORS_METRIC.name, API_ERRORS_METRIC.help, { code });
}

/**
 * Serves one API request: finds its route, authenticates the caller (unless the route is
 * public), refuses an `Accept` accepting nothing the route answers (`refuseUnacceptable`), a
 * query with a malformed %-escape (unless the route ignores the query) and any query parameter
 * on a route that neither reads nor ignores the query, runs the handler, and
 * answers any error in the envelope, logging those that are not the caller's to fix (5xx and
 * anything not an `ApiError`): a call refused as Tally is busy (`backPressure`, to retry) as
 * `request_refused` at warn, any other as `request_failed` at error; and counting each error
 * answered by its code ({@link API_ERRORS_METRIC}) and calls refused 401 in `counters`.
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
  /** Whether the route needs no API key: its 401s (a metrics key refused) are the metrics key's. */
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
    const requireLiveKey = () => {
      if (route.public !== true) authenticate(req, accounts);
    };
    await route.handler({ req, res, url, params, requestId, principal, requireLiveKey });
  } catch (error) {
    const answer = apiErrorOf(error);
    if (clientWentAway(error, req)) {
      // Not the server's failure: anyone can cause it, so it is no error in the logs.
      log.info('request_aborted', { requestId, method: req.method, path: url.pathname });
    } else {
      countApiError(counters, answer.code);
      if (answer.status === 401) {
        const key = publicRoute ? 'metrics' : 'api';
        counters.inc(API_AUTH_FAILURES_METRIC.name, API_AUTH_FAILURES_METRIC.help, { key });
      }
      if (answer.backPressure) {
        // Tally works as it should, only busy: an error line for each call would page for nothing.
        log.warn('request_refused', {
          requestId,
          method: req.method,
          path: url.pathname,
          code: answer.code,
          message: answer.message,
        });
      } else if (answer.status >= 500) {
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
    }
    sendError(res, answer, requestId);
  }
}

/** True for the error a request's body stream throws when the client closed the connection midway. */
function clientWentAway(error: unknown, req: IncomingMessage): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ECONNRESET' && req.readableAborted;
}
