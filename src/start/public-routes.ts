import { requireBearer } from '../control/auth.js';
import type { Route } from '../control/router.js';
import { retryLater } from '../control/api-error.js';
import { sendError, sendJson, sendJsonText } from '../control/send.js';
import { OPENAPI_DOCUMENT } from '../control/openapi.js';
import { OMID_VERIFICATION_SCRIPT } from '../hot/omid-script.js';
import { sendBody } from '../hot/responses.js';
import type { Metrics } from '../lib/metrics.js';

/**
 * The routes served without an API key: `/healthz`, `/readyz` (as `unreadyReason` says),
 * `/metrics` (behind `metricsKey` when set; `beforeScrape` runs before each), `/docs` and
 * `/omid/verify.js`.
 */
export function publicRoutes(
  metrics: Metrics,
  unreadyReason: () => string | undefined,
  beforeScrape: () => Promise<void>,
  metricsKey: string | undefined,
): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      public: true,
      ignoresQuery: true,
      handler: (ctx) => sendJson(ctx.res, 200, { status: 'ok' }, ctx.requestId),
    },
    {
      method: 'GET',
      path: '/readyz',
      public: true,
      ignoresQuery: true,
      handler(ctx) {
        const reason = unreadyReason();
        // Sent, not thrown: a 503 here is the answer, not a fault worth an error line. Each reason
        // passes (the claims load, a new counting thread starts, a commit goes through, the ledger
        // is put back, another Tally takes the port after a shutdown): look again, as every 503
        // Tally sends says. Nor is it counted among the API's error answers: a load balancer asks
        // every few seconds, and `tally_ready` shows the state itself.
        if (reason !== undefined) sendError(ctx.res, retryLater('UNAVAILABLE', reason), ctx.requestId);
        else sendJson(ctx.res, 200, { status: 'ready' }, ctx.requestId);
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      public: true,
      ignoresQuery: true,
      answers: ['text/plain'],
      async handler(ctx) {
        if (metricsKey !== undefined) requireBearer(ctx.req, metricsKey);
        await beforeScrape();
        sendBody(ctx.res, 200, 'text/plain; version=0.0.4; charset=utf-8', metrics.render(), {
          'X-Request-Id': ctx.requestId,
        });
      },
    },
    {
      method: 'GET',
      path: '/docs',
      public: true,
      ignoresQuery: true,
      handler: (ctx) => sendJsonText(ctx.res, 200, OPENAPI_JSON, ctx.requestId, 'public, max-age=300'),
    },
    {
      method: 'GET',
      path: '/omid/verify.js',
      public: true,
      ignoresQuery: true,
      // text/javascript: the name RFC 9239 gives JavaScript, which script loaders may ask for.
      answers: ['application/javascript', 'text/javascript'],
      handler(ctx) {
        ctx.res.writeHead(200, {
          'Content-Type': 'application/javascript; charset=utf-8',
          'Cache-Control': 'public, max-age=3600',
          'X-Request-Id': ctx.requestId,
        });
        ctx.res.end(OMID_VERIFICATION_SCRIPT);
      },
    },
  ];
}

/** The OpenAPI document `/docs` serves, serialised once: it is public, and some 100 KB. */
const OPENAPI_JSON = Buffer.from(JSON.stringify(OPENAPI_DOCUMENT));
