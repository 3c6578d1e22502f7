import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CounterSink } from './metrics.js';

/**
 * Requests answered with an error that no ledger, log or report holds, because they could not be
 * read as HTTP: malformed (400), a head too large (431) or too slow (408); or because they asked
 * an expectation (`Expect`) Tally does not meet (417), refused before any route read them. A rise
 * is a client whose notices or hits are lost before Tally can read them.
 */
export const UNREAD_REQUESTS_METRIC = {
  name: 'tally_unread_requests_total',
  help: 'Requests answered 400, 431 or 408 because they could not be read as HTTP (malformed, a head too large or too slow), or 417 for an Expect Tally does not meet, recorded nowhere else',
  statuses: ['400', '408', '417', '431'],
} as const;

/** The answer to a request that could not be read as HTTP, by node:http's error code. */
interface ClientErrorAnswer {
  status: number;
  code: string;
  message: string;
}

/**
 * Answers a request node:http could not read (malformed, a head too large, a head too slow)
 * with the API's error envelope, where node:http would answer an empty 400/431/408, then closes
 * the connection. The answers owed to the requests read before it on the connection go out
 * first, in order (once handed to the connection, before node:http ends it for a client that
 * half-closed); nothing is written when the peer has gone, or for bytes after a request whose
 * answer closes the connection, and no request after it is served.
 * Each answer is counted in {@link UNREAD_REQUESTS_METRIC}. Install as the server's `clientError`
 * listener.
 */
export function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  maxHeadBytes: number,
  counters: CounterSink,
): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // Bytes after a request answered `Connection: close`: that answer ends the connection once
  // written, and what came after it is no request of this connection's, to be sent again.
  if (error.code === 'HPE_CLOSED_CONNECTION') return;
  // Earlier requests, read whole, are still being answered: the error goes out after them.
  // Every chunk that follows a parse error raises it again; one wait is enough.
  if (answersUnwritten(socket) > 0) {
    if (!waiting.has(socket)) {
      waiting.add(socket);
      whenAnswered(socket, () => {
        waiting.delete(socket);
        answerClientError(error, socket, maxHeadBytes, counters);
      });
    }
    return;
  }
  // The request being answered, if any, is the one that failed (its body is malformed or too
  // slow): it will never be read whole, so it is answered now, unless its answer has begun (the
  // peer would read a corrupt answer).
  const failed = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (failed !== undefined && failed !== null && !failed.writableEnded && failed.headersSent) {
    socket.destroy();
    return;
  }
  // The peer ended its side midway through the body of a notice or hit served from its head (the
  // connection's first or one pipelined behind others): it is recorded, and its answer, once
  // committed, ends the connection, as one whose body never all arrives does. A 400 would tell the
  // client it was not.
  const cutShort = error.code === 'HPE_INVALID_EOF_STATE' ? lastRequestAnswering(socket) : undefined;
  if (isHotServed(cutShort)) return;
  // The peer ended its side midway through the body of a call an API route is reading (the
  // connection's first or one pipelined behind others): the route logs it (`request_aborted`), so
  // it is no request Tally could not read. A client that only half-closed still reads the 400. (A
  // call whose route reads no body, a report, logs nothing: it is counted.)
  const readByApi =
    cutShort !== undefined && !cutShort.complete && apiCalls.has(cutShort) && isBodyRead(cutShort);
  const answer = clientErrorResponse(error.code, maxHeadBytes, readByApi ? UNCOUNTED : counters);
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // The parser is not in error after a head too slow: were the connection read on, the rest of
    // that head (or a request after it) would be served, with an answer that could not be written.
    // So it is closed once written, as node:http closes it.
    socket.end(answer, () => socket.destroy());
    return;
  }
  // After a parse error the parser reads nothing more; reading on until the peer closes keeps its
  // unread bytes from resetting the connection before it reads the answer.
  socket.end(answer);
}

/** Counts nothing: for an answer to a request a route read, which is not unread. */
const UNCOUNTED: CounterSink = { inc: () => undefined };

/**
 * Whether a route reads `req`'s body (`readJsonText`, any consumer of the stream): its reading then
 * fails as the client goes away, which the API logs. A body nothing reads is `null`-flowing.
 */
function isBodyRead(req: IncomingMessage): boolean {
  return req.readableFlowing !== null;
}

/** The requests handed to the API's routes, which log a call whose client went away. */
const apiCalls = new WeakSet<IncomingMessage>();

/**
 * Notes that `req` is handed to the API's routes: cut short midway through a body its route reads,
 * it is logged there (`request_aborted`), not counted in {@link UNREAD_REQUESTS_METRIC}.
 */
export function handToApi(req: IncomingMessage): void {
  apiCalls.add(req);
}

/** The notices and hits served through node:http: recorded, they are answered as such. */
const hotServed = new WeakSet<IncomingMessage>();

/**
 * Notes that `req`, a notice or hit, is being served (recorded): cut short midway through its body,
 * it gets the answer it is owed, not a 400.
 */
export function handToHot(req: IncomingMessage): void {
  hotServed.add(req);
}

/** Whether `req` is a notice or hit served through node:http whose body never arrived whole. */
function isHotServed(req: IncomingMessage | undefined): boolean {
  return req !== undefined && !req.complete && hotServed.has(req);
}

/**
 * The request last dispatched on `socket` while it is still being answered: the one whose body
 * a parse error at the connection's end cut short, whether or not its answer has its turn yet.
 */
function lastRequestAnswering(socket: Duplex): IncomingMessage | undefined {
  let last: IncomingMessage | undefined;
  for (const res of unanswered.get(socket) ?? []) last = res.req;
  return last;
}

/** Connections whose error waits for the answers to earlier requests. */
const waiting = new WeakSet<Duplex>();

/** Per connection, the responses to requests read whole that are not yet written out. */
const unanswered = new WeakMap<Duplex, Set<ServerResponse>>();
/**
 * Per connection, the responses whose last bytes are not yet handed to it (`prefinish`): an
 * answer written to the connection after that goes out after them. Sooner than `finish`, which
 * waits for them to be flushed: once the client has half-closed, node:http ends the connection on
 * the last one's `finish`, before an error answer waiting for it could be written.
 */
const unwritten = new WeakMap<Duplex, Set<ServerResponse>>();
/** Per connection, what waits for {@link unwritten} to empty. */
const whenDone = new WeakMap<Duplex, (() => void)[]>();

/**
 * Notes a request node:http dispatched, so that an answer written to its connection itself (an
 * error, a refusal) goes out only once its response is: node:http writes the responses it queued
 * for a connection only as each before it finishes, so a socket ended early would drop them
 * (several settled at once, by one group commit, leave a response queued behind the one whose
 * `writableFinished` already reads true). Install as the server's first `request` listener.
 */
export function trackAnswer(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  let responses = unanswered.get(socket);
  if (responses === undefined) {
    responses = new Set();
    unanswered.set(socket, responses);
  }
  responses.add(res);
  let pending = unwritten.get(socket);
  if (pending === undefined) {
    pending = new Set();
    unwritten.set(socket, pending);
  }
  pending.add(res);
  const done = () => responses.delete(res);
  const written = () => {
    pending.delete(res);
    if (answersUnwritten(socket) > 0) return;
    const waiters = whenDone.get(socket) ?? [];
    whenDone.delete(socket);
    for (const waiter of waiters) waiter();
  };
  res.once('finish', done);
  res.once('close', done);
  res.once('prefinish', written);
  res.once('close', written);
}

/** How many requests read whole on `socket` are not yet answered (see {@link trackAnswer}). */
export function answersOwed(socket: Duplex): number {
  let owed = 0;
  for (const res of unanswered.get(socket) ?? []) if (res.req.complete) owed++;
  return owed;
}

/**
 * The server's `timeout` listener: ends a connection node:http found without activity for its
 * timeout, as node:http does with none, unless the answer it is writing (its oldest owed, which
 * those pipelined behind it wait for, ready or not) is still being prepared (a report being run;
 * the bytes of its answer start the timer again). An answer whose bytes stopped moving (a client
 * that reads nothing, holding them in memory for good) ends it, as does an idle keep-alive.
 */
export function endStalledConnection(socket: Duplex): void {
  const [writing] = unanswered.get(socket) ?? [];
  if (writing === undefined || writing.writableEnded) socket.destroy();
}

/** How many requests read whole on `socket` have answers not yet handed to it in full. */
function answersUnwritten(socket: Duplex): number {
  let owed = 0;
  for (const res of unwritten.get(socket) ?? []) if (res.req.complete) owed++;
  return owed;
}

/**
 * Whether `res` can never be written: its connection has ended, or an answer owed before it on
 * the connection ends it (`Connection: close`: the client asked so, or its request's body was not
 * yet read when it was answered), which node:http writes last. A request pipelined behind that
 * answer is still read and dispatched.
 */
export function answeredAfterClose(res: ServerResponse): boolean {
  const socket = res.req.socket;
  if (socket.writableEnded) return true;
  for (const earlier of unanswered.get(socket) ?? []) {
    if (earlier === res) return false;
    if (!earlier.shouldKeepAlive) return true;
  }
  return false;
}

/**
 * Runs `then` once the answer to every request read whole on `socket` is handed to it: now, if
 * every one is.
 */
function whenAnswered(socket: Duplex, then: () => void): void {
  if (answersUnwritten(socket) === 0) {
    then();
    return;
  }
  const waiters = whenDone.get(socket) ?? [];
  waiters.push(then);
  whenDone.set(socket, waiters);
}

/**
 * The whole HTTP/1.1 answer, error envelope and `Connection: close` included, to a request that
 * failed with node:http's error `errorCode` (`ERR_HTTP_REQUEST_TIMEOUT` for a head too slow),
 * counted by its status in {@link UNREAD_REQUESTS_METRIC}.
 */
export function clientErrorResponse(
  errorCode: string | undefined,
  maxHeadBytes: number,
  counters: CounterSink,
): string {
  const answer = answerFor(errorCode, maxHeadBytes);
  counters.inc(UNREAD_REQUESTS_METRIC.name, UNREAD_REQUESTS_METRIC.help, { status: String(answer.status) });
  return errorResponse(answer, randomUUID());
}

/**
 * The whole HTTP/1.1 answer carrying the error envelope of `answer`, with `Connection: close` and
 * any `headers` HTTP requires with its status.
 */
function errorResponse(
  { status, code, message }: ClientErrorAnswer,
  requestId: string,
  headers: Readonly<Record<string, string>> = {},
): string {
  const body = JSON.stringify({ error: { code, message, requestId } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\n' +
    `X-Request-Id: ${requestId}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Answers a `CONNECT` request 405 `METHOD_NOT_ALLOWED` and closes its connection: Tally is no
 * proxy and opens no tunnel. node:http hands a CONNECT over as a bare socket (and destroys it
 * unanswered when the server has no `connect` listener); install this as that listener. The
 * `Allow` header is empty, as RFC 9110 §10.2.1 has it for a target that allows no method: a
 * CONNECT's target is a host and port, not a path of Tally's. Answers owed to the requests read
 * before it on the connection go out first; what the peer sends after it is read and dropped,
 * and a peer that has not closed its side `lingerMs` after the answer is cut off.
 */
export function refuseConnect(socket: Duplex, requestId: string, lingerMs: number): void {
  // node:http no longer watches the socket: an error it has (a reset) must not go unheard.
  socket.on('error', () => socket.destroy());
  whenAnswered(socket, () => writeConnectRefusal(socket, requestId, lingerMs));
}

function writeConnectRefusal(socket: Duplex, requestId: string, lingerMs: number): void {
  const message =
    'CONNECT is not allowed: Tally is no proxy and opens no tunnels; send the request itself to its path, e.g. GET /docs';
  const answer = errorResponse({ status: 405, code: 'METHOD_NOT_ALLOWED', message }, requestId, {
    Allow: '',
  });
  const linger = setTimeout(() => socket.destroy(), lingerMs);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  socket.end(answer);
  socket.resume();
}

/**
 * What to fix, by llhttp's code, for the malformed requests clients send most (a macro filled
 * with a space or control character, a method in lower case, a header without its colon, a body
 * framed twice); any other is told to check the request as a whole.
 */
const MALFORMED_FIXES: Readonly<Record<string, string>> = {
  HPE_INVALID_URL:
    'the request target holds a control character or DEL, which no URL carries: percent-encode it (%01, %7F)',
  HPE_INVALID_CONSTANT:
    'the request line must be METHOD TARGET HTTP/1.1, with single spaces (a space in the target? percent-encode it as %20)',
  HPE_INVALID_METHOD:
    'the method must be one HTTP defines, in capitals (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)',
  HPE_INVALID_VERSION: 'the request line must end with HTTP/1.1 (or HTTP/1.0), and each line with CRLF',
  HPE_INVALID_HEADER_TOKEN:
    'a header is malformed (a space before its colon, no colon, a control character): send each as Name: value',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'send Content-Length once, with the number of bytes of the body',
  HPE_INVALID_CONTENT_LENGTH: 'send Content-Length as the number of bytes of the body, digits alone',
  HPE_INVALID_TRANSFER_ENCODING:
    'frame the body with Content-Length or Transfer-Encoding: chunked, not both (or chunked last)',
  HPE_INVALID_CHUNK_SIZE:
    'the chunked body is malformed: send each chunk as its size in hexadecimal, CRLF, its bytes, CRLF, and end with 0 CRLF CRLF',
};

function answerFor(errorCode: string | undefined, maxHeadBytes: number): ClientErrorAnswer {
  if (errorCode === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      code: 'HEADERS_TOO_LARGE',
      message: `the request line and headers exceed ${maxHeadBytes} bytes: send fewer or shorter headers`,
    };
  }
  if (errorCode === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      code: 'REQUEST_TIMEOUT',
      message: 'the request did not arrive in time: send the whole request at once',
    };
  }
  const fix =
    (errorCode === undefined ? undefined : MALFORMED_FIXES[errorCode]) ??
    'check its request line, headers and body framing';
  return {
    status: 400,
    code: 'MALFORMED_REQUEST',
    message: `the request is not valid HTTP/1.1${errorCode === undefined ? '' : ` (${errorCode})`}: ${fix}`,
  };
}
