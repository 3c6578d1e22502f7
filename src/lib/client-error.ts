import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

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
 * first, in order; nothing is written when the peer has gone. Install as the server's
 * `clientError` listener.
 */
export function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  maxHeadBytes: number,
): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // node:http gives the socket its responses one at a time, in request order.
  const owed = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (owed !== undefined && owed !== null && !owed.writableFinished) {
    owed.once('finish', () => answerClientError(error, socket, maxHeadBytes));
    return;
  }
  socket.end(clientErrorResponse(error.code, maxHeadBytes));
}

/**
 * The whole HTTP/1.1 answer, error envelope and `Connection: close` included, to a request that
 * failed with node:http's error `errorCode` (`ERR_HTTP_REQUEST_TIMEOUT` for a head too slow).
 */
export function clientErrorResponse(errorCode: string | undefined, maxHeadBytes: number): string {
  const { status, code, message } = answerFor(errorCode, maxHeadBytes);
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code, message, requestId } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\n' +
    `X-Request-Id: ${requestId}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

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
  return {
    status: 400,
    code: 'MALFORMED_REQUEST',
    message: `the request is not valid HTTP/1.1${errorCode === undefined ? '' : ` (${errorCode})`}: check its request line, headers and body framing`,
  };
}
