import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { deferContinue } from '../control/expect-continue.js';
import { ApiError } from '../control/api-error.js';
import { requestIdOf, sendError } from '../control/send.js';
import { laneServe } from '../hot/lane-serve.js';
import { NoticeLane } from '../hot/notice-lane.js';
import { countRefusedMethod } from '../lib/method-refusals.js';
import {
  answerClientError,
  endStalledConnection,
  refuseConnect,
  trackAnswer,
  UNREAD_REQUESTS_METRIC,
} from '../lib/client-error.js';
import { shown } from '../lib/shown.js';
import { responseClosingOn } from './closing-response.js';
import { capConnections } from './connection-cap.js';
import { requestListener } from './request-listener.js';
import type { RequestSources } from './request-listener.js';

/** Idle keep-alive connections close after this long (longer than load balancers' idle timeouts). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 10_000;
/**
 * How often node:http looks for requests past their head or request timeout: its default, 30 s,
 * would let an API request whose head stalls wait up to 40 s for its 408 rather than about 10 s.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Largest request head read (node:http's default). */
const MAX_HEAD_BYTES = 16_384;
/** Notices one connection may pipeline before the notice lane waits for their answers. */
const MAX_PIPELINED = 32;

/** Tally's HTTP server, not yet listening, and the notice lane in front of it. */
export interface HttpServing {
  server: Server;
  lane: NoticeLane;
}

/**
 * The HTTP server: node:http serving the API and the notices and hits it reads (see
 * {@link requestListener}), behind the notice lane, which serves the notices and hits it can read
 * itself; with the timeouts and limits of both. `sendTimeoutMs` (`TALLY_SEND_TIMEOUT_SECONDS`) is
 * how long an answer's bytes may stop moving before its connection is closed, as nginx's
 * `send_timeout` does (up to twice this: Node takes a write that moved since the last look for
 * progress): a client that asks and never reads would otherwise hold the connection, and the bytes
 * of the answers node:http queued for it, for good. At most `maxConnections`
 * (`TALLY_MAX_CONNECTIONS`) are open at once (see {@link capConnections}).
 */
export function httpServing(
  sources: RequestSources,
  { sendTimeoutMs, maxConnections }: { sendTimeoutMs: number; maxConnections: number },
): HttpServing {
  const { state, noticeDeps, trackerDeps, metrics, log } = sources;
  const server = createServer(
    {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      maxHeaderSize: MAX_HEAD_BYTES,
      ServerResponse: responseClosingOn(() => state.shuttingDown),
      // Answered below, in the error envelope, rather than with node:http's bare 400.
      requireHostHeader: false,
    },
    requestListener(sources),
  );
  const refuseExpectation = (req: IncomingMessage, res: ServerResponse): void => {
    const expectation = shown(req.headers.expect);
    const message = `Expect: ${expectation} is not supported: send the request without it (or with Expect: 100-continue)`;
    sendError(res, new ApiError(417, 'EXPECTATION_FAILED', message), requestIdOf(req));
    // Refused before any route read it, a notice or hit included: recorded nowhere else.
    metrics.inc(UNREAD_REQUESTS_METRIC.name, UNREAD_REQUESTS_METRIC.help, { status: '417' });
  };
  server.on('checkExpectation', refuseExpectation);
  // node:http takes any Expect naming 100-continue among others (`100-continue, foo`) for it alone;
  // an expectation Tally does not meet beside it is refused as it would be on its own (RFC 9110
  // §10.1.1), rather than ignored.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.expect?.trim().toLowerCase() !== '100-continue') return refuseExpectation(req, res);
    // `100 Continue` goes out when an API route reads the body, or before a notice or hit is served;
    // a request refused before that gets its final answer alone (node:http then closes the
    // connection, whose body never comes).
    deferContinue(req, (sent) => continueInTurn(res, sent));
    server.emit('request', req, res);
  });
  // First: the answers an error or a refusal written to the connection must wait for.
  server.prependListener('request', trackAnswer);
  server.on('clientError', (error: Error, socket) =>
    answerClientError(error, socket, MAX_HEAD_BYTES, metrics),
  );
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    refuseConnect(socket, requestIdOf(req), HEADERS_TIMEOUT_MS);
    countRefusedMethod(metrics, 'connect');
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // A client that ends its side after its requests (half-close) still gets their answers, as the
  // notice lane gives them: node:http would drop requests in flight, counted or not.
  // (An undocumented node:http setting, there since Node 0.x: `httpAllowHalfOpen`.)
  (server as typeof server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Every header field of a head within MAX_HEAD_BYTES is read, as the notice lane reads them: past
  // node:http's default 2000 (raw names and values), a User-Agent or Host would go unseen.
  server.maxHeadersCount = 0;
  server.requestTimeout = 60_000;
  // node:http's sockets (the notice lane has timeouts of its own) time out once nothing moves on
  // them for this long; each step the kernel takes of an answer restarts it, but it takes those
  // that outgrow its buffers a third of its send buffer (up to 4 MB) at a time: one of several MB
  // read slower than about 50 KB/s is ended at the default 30 s. Node has no timeout of its own for
  // an answer the client does not read.
  server.timeout = sendTimeoutMs;
  server.on('timeout', endStalledConnection);
  const lane = NoticeLane.install(
    server,
    laneServe(noticeDeps, trackerDeps, log),
    {
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      maxHeadBytes: MAX_HEAD_BYTES,
      maxPipelined: MAX_PIPELINED,
    },
    metrics,
  );
  capConnections(server, maxConnections, metrics);
  return { server, lane };
}

/**
 * Writes `100 Continue` for `res` once it is its connection's answer in turn, then calls `sent`.
 * Queued behind the answer to a request before it, node:http would put its head before the buffered
 * interim answer (a body given as bytes), which the client then reads as that body. One answered by
 * then is owed none.
 */
function continueInTurn(res: ServerResponse, sent: () => void): void {
  const send = (): void => {
    if (!res.headersSent) res.writeContinue();
    sent();
  };
  if (res.socket !== null) send();
  else res.once('socket', send);
}

/** Where `server` listens, e.g. `http://127.0.0.1:8080`. */
export function listeningUrl(server: Server): string {
  const address = server.address() as AddressInfo;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
