import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { answerClientError } from './client-error.js';

const MAX_HEAD_BYTES = 8192;
/** Answers after this long, so that a malformed request behind it is read first. */
const SLOW_ANSWER_MS = 50;

const server = createServer((req, res) => {
  // Answers once the request's body is read whole, and a while after.
  req.resume();
  req.on('end', () => setTimeout(() => res.end(`answer to ${req.url}`), SLOW_ANSWER_MS));
});
server.on('clientError', (error: Error, socket) => answerClientError(error, socket, MAX_HEAD_BYTES));

/** Writes `bytes` on one connection and reads everything until the server closes it. */
function exchange(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
after(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('answering a request node:http cannot read', () => {
  it('answers it with the error envelope and closes the connection', async () => {
    const raw = await exchange('GET /a HTTP/1.1\r\nHost x\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /"code":"MALFORMED_REQUEST"/);
  });

  // Left unanswered, the connection would stay open: the timeout turns that into a failure.
  it(
    'answers a request whose body is malformed at once, though its handler is still waiting for the body',
    { timeout: 10_000 },
    async () => {
      const raw = await exchange(
        'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nZZZ\r\n',
      );
      assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(raw, /"code":"MALFORMED_REQUEST"/);
      assert.doesNotMatch(raw, /answer to/);
    },
  );

  it('serves no request pipelined after the malformed one', async () => {
    const raw = await exchange('GET /bad HTTP/1.1\r\nHost x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.doesNotMatch(raw, /answer to/);
  });

  it('first answers the requests pipelined before it, in order, then the error', async () => {
    const raw = await exchange(
      'GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\nGET /third HTTP/1.1\r\nHost x\r\n\r\n',
    );
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    assert.deepEqual(statuses, ['200', '200', '400']);
    assert.ok(raw.indexOf('answer to /first') < raw.indexOf('answer to /second'));
    assert.match(raw, /"code":"MALFORMED_REQUEST"/);
  });
});

describe('after answering a head too slow', () => {
  const served: string[] = [];
  const slowHeads = createServer(
    { headersTimeout: 300, requestTimeout: 300, connectionsCheckingInterval: 50 },
    (req, res) => {
      served.push(req.url ?? '');
      res.end('served');
    },
  );
  slowHeads.on('clientError', (error: Error, socket) => answerClientError(error, socket, MAX_HEAD_BYTES));
  before(() => new Promise<void>((resolve) => slowHeads.listen(0, '127.0.0.1', resolve)));
  after(() => {
    slowHeads.closeAllConnections();
    return new Promise<void>((resolve) => slowHeads.close(() => resolve()));
  });

  it('serves nothing more on the connection: the rest of that head, sent after the 408, is not a request', async () => {
    const raw = await new Promise<string>((resolve) => {
      const socket = connect((slowHeads.address() as AddressInfo).port, '127.0.0.1', () =>
        socket.write('GET /late HTTP/1.1\r\nHost: x\r\n'),
      );
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
        // The 408 came: the client finishes its head, as a slow client would.
        if (text.includes('\r\n\r\n{') && socket.writable)
          socket.write('\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      socket.on('close', () => resolve(text));
      // The server may close before the rest arrives: the write then fails, which is as good.
      socket.on('error', () => {});
    });
    assert.match(raw, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.doesNotMatch(raw, /served/);
    assert.deepEqual(served, []);
  });
});
