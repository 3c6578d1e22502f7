import { ServerResponse } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';

/** A response's headers, as `writeHead` takes them. */
type ResponseHeaders = OutgoingHttpHeaders | OutgoingHttpHeader[];

/**
 * node:http's response class, answering `Connection: close` once `shuttingDown()`, to a request
 * whose body has not all arrived, and to one asking for an upgrade: node:http then ends the
 * connection after the answer. A request in flight when the server closes would otherwise be
 * answered keep-alive, leaving an idle connection that holds the process open until the client
 * closes it or the keep-alive timeout passes.
 */
export function responseClosingOn(shuttingDown: () => boolean): typeof ServerResponse {
  return class ClosingResponse<
    Request extends IncomingMessage = IncomingMessage,
  > extends ServerResponse<Request> {
    // Every answer's head is written here: `end()` or `write()` without it call it too.
    override writeHead(statusCode: number, statusMessage?: string, headers?: ResponseHeaders): this;
    override writeHead(statusCode: number, headers?: ResponseHeaders): this;
    override writeHead(
      statusCode: number,
      messageOrHeaders?: string | ResponseHeaders,
      headers?: ResponseHeaders,
    ): this {
      // A request whose body did not all arrive (a beacon declaring more bytes than it sends) is
      // answered on a connection that then ends: kept open, node:http would wait for the rest and
      // answer 408 on it a minute later, a second answer to one request.
      // A request asking for an upgrade (an h2c or websocket one, which Tally declines by answering
      // it in HTTP/1.1) ends what node:http reads of the bytes that brought it: a request pipelined
      // behind it would never be answered, on a connection kept open, or be taken for the next one.
      if (shuttingDown() || (!this.req.complete && hasBody(this.req)) || asksForUpgrade(this.req))
        this.shouldKeepAlive = false;
      return typeof messageOrHeaders === 'string' || headers !== undefined
        ? super.writeHead(statusCode, messageOrHeaders as string | undefined, headers)
        : super.writeHead(statusCode, messageOrHeaders);
    }
  };
}

/**
 * Whether a request asks for a protocol upgrade as node:http's parser reads one: an `Upgrade` header
 * and the `upgrade` option of `Connection` (or of `Proxy-Connection`, which llhttp reads alike).
 */
function asksForUpgrade(req: IncomingMessage): boolean {
  if (req.headers.upgrade === undefined) return false;
  return [req.headers.connection, req.headers['proxy-connection']].some(
    (value) =>
      typeof value === 'string' &&
      value.split(',').some((option) => option.trim().toLowerCase() === 'upgrade'),
  );
}

/**
 * Whether a request has a body: a bodiless one is answered before node:http marks it complete
 * (its handler runs first), which says nothing of a body still to come.
 */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
}
