import type { IncomingMessage, ServerResponse } from 'node:http';
import { retryLater } from './api-error.js';
import { requestIdOf, sendError, sendJson } from './send.js';

/**
 * Answers a request that came while Tally starts, its ledger being migrated (minutes, on a large
 * one after an upgrade) or opened: `GET /healthz` 200 `{"status": "starting"}` (the process is
 * alive: a liveness probe must not kill it mid-migration), `GET /readyz` 503 `UNAVAILABLE` as when
 * Tally is not ready, and any other request 503 `STARTING`, to send again. Not a route of the API:
 * the held port answers so until the server takes it over (`holdPort`).
 */
export function answerWhileStarting(req: IncomingMessage, res: ServerResponse): void {
  const requestId = requestIdOf(req);
  const reads = req.method === 'GET' || req.method === 'HEAD';
  const path = pathOf(req.url ?? '/');
  if (reads && path === '/healthz') {
    sendJson(res, 200, { status: 'starting' }, requestId);
    return;
  }
  const refusal =
    reads && path === '/readyz'
      ? retryLater(
          'UNAVAILABLE',
          'starting (migrating or opening the ledger, which may take minutes after an upgrade): retry shortly',
        )
      : retryLater(
          'STARTING',
          'Tally is starting (migrating or opening its ledger, which may take minutes after an upgrade): send the request again shortly',
        );
  sendError(res, refusal, requestId);
}

/** The path of a request target (`/healthz?probe=1`, `http://host/healthz`), or `undefined`. */
function pathOf(target: string): string | undefined {
  try {
    return new URL(target.startsWith('/') ? `http://tally.invalid${target}` : target).pathname;
  } catch {
    return undefined;
  }
}
