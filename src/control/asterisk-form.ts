import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.js';
import { requestIdOf, sendError } from './send.js';

/**
 * Answers a request whose target is `*` (RFC 9110 §7.1's asterisk form), which names the server as
 * a whole rather than a resource, and is sent with `OPTIONS` alone: `OPTIONS *` (a client or
 * proxy asking what the server supports, or checking that it answers) is answered 204 with
 * `allow`, the methods the server takes; any other method 400 `MALFORMED_REQUEST`, as no resource
 * is named, after calling `refused` (which counts it with the other requests that could not be read).
 */
export function answerAsteriskForm(
  req: IncomingMessage,
  res: ServerResponse,
  allow: string,
  refused: () => void,
): void {
  const requestId = requestIdOf(req);
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { Allow: allow, 'Cache-Control': 'no-store', 'X-Request-Id': requestId });
    res.end();
    return;
  }
  refused();
  const message = `the request target * names the server as a whole, which only OPTIONS asks about: send ${String(req.method)} with a path, such as /v1/wins`;
  sendError(res, new ApiError(400, 'MALFORMED_REQUEST', message), requestId);
}
