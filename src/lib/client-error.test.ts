import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createNetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { answerClientError, refuseConnect, trackAnswer } from './client-error.js';
import { Metrics } from './metrics.js';

const MAX_HEAD_BYTES = 8192;
/** Answers after this long, so that a malformed request behind it is read first. */
const SLOW_ANSWER_MS = 50;

/** Responses to `/batched/…` requests, answered together as one group commit answers its notices. */
let batched: { url: string; res: ServerResponse }[] = [];

const server = createServer((req, res) => {
  // `/streaming` begins its answer at once, before its body is read.
  if (req.url === '/streaming') res.writeHead(200, { 'Content-Type': 'text/plain' }).write('partial answer');
  req.resume();
  if (req.url?.startsWith('/batched/') === true) {
    batched.push({ url: req.url, res });
    if (batched.length === 1)
      setTimeout(() => {
        const answering = batched;
        batched = [];
        for (const { url, res: response } of answering) response.end(`answer to ${url}`);
      }, SLOW_ANSWER_MS);
    return;
  }
  // Answers once the request's body is read whole, and a while after.
  req.on('end', () => setTimeout(() => res.end(`answer to ${req.url}`), SLOW_ANSWER_MS));
});
server.prependListener('request', trackAnswer);
/** What the server counted, read back by each test as a change from before it. */
const metrics = new Metrics();
server.on('clientError', (error: Error, socket) => answerClientError(error, socket, MAX_HEAD_BYTES, metrics));
server.on('connect', (_req, socket: Duplex) => refuseConnect(socket, 'connect-request', 1000));

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

/** Writes `bytes` on one connection and reads everything until it closes, however it closes. */
function exchangeUntilClosed(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', () => {});
  });
}

/** How many requests `counted` holds as answered `status` because they could not be read. */
function unreadCount(counted: Metrics, status: number): number {
  const line = new RegExp(`^tally_unread_requests_total\\{status="${status}"\\} (\\d+)$`, 'm');
  return Number(line.exec(counted.render())?.[1] ?? 0);
}

before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
after(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('answering a request node:http cannot read', () => {
  it('answers it with the error envelope, counted as an unread request, and closes the connection', async () => {
    const before = unreadCount(metrics, 400);
    const raw = await exchange('GET /a HTTP/1.1\r\nHost x\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /"code":"MALFORMED_REQUEST"/);
    assert.equal(unreadCount(metrics, 400), before + 1);
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
    assert.ok(
      raw.indexOf('answer to /first') < raw.indexOf('answer to /second'),
      `answered in order: ${raw}`,
    );
    assert.match(raw, /"code":"MALFORMED_REQUEST"/);
  });

  it('first writes every answer owed before it when they are settled together, as a group commit settles them', async () => {
    const requests = ['/batched/1', '/batched/2', '/batched/3'].map(
      (url) => `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    const raw = await exchange(`${requests.join('')}BOGUS\r\n\r\n`);
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    assert.deepEqual(statuses, ['200', '200', '200', '400']);
    assert.ok(
      raw.indexOf('answer to /batched/2') < raw.indexOf('answer to /batched/3'),
      `answered in order: ${raw}`,
    );
  });

  it('writes a CONNECT refusal after every answer owed before it, settled together', async () => {
    const requests = ['/batched/a', '/batched/b', '/batched/c'].map(
      (url) => `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    const raw = await exchangeUntilClosed(
      `${requests.join('')}CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n`,
    );
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    assert.deepEqual(statuses, ['200', '200', '200', '405']);
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
  const slowMetrics = new Metrics();
  slowHeads.on('clientError', (error: Error, socket) =>
    answerClientError(error, socket, MAX_HEAD_BYTES, slowMetrics),
  );
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
    assert.match(slowMetrics.render(), /^tally_unread_requests_total\{status="408"\} 1$/m);
  });
});

describe('the answer to a request node:http cannot read', () => {
  it('answers a head too large 431 HEADERS_TOO_LARGE, naming the limit, counted as an unread request', async () => {
    const before = unreadCount(metrics, 431);
    // Past node:http's own limit on a head (16 KiB by default).
    const raw = await exchange(`GET /big HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as {
      error: { code: string; message: string };
    };
    assert.equal(body.error.code, 'HEADERS_TOO_LARGE');
    assert.match(body.error.message, /exceed 8192 bytes/);
    assert.equal(unreadCount(metrics, 431), before + 1);
  });

  it('says in its message what to fix: the character of the target to percent-encode, the method, the header, the body framing', async () => {
    const messages: [string, RegExp][] = [
      ['GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n', /control character or DEL.*percent-encode it/],
      ['GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n', /control character or DEL.*percent-encode it/],
      ['GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', /a space in the target.*%20/],
      ['get /a HTTP/1.1\r\nHost: x\r\n\r\n', /method.*in capitals/],
      ['GET /a HTTP/2.5\r\nHost: x\r\n\r\n', /HTTP\/1\.1.*CRLF/],
      ['GET /a HTTP/1.1\r\nHost : x\r\n\r\n', /header.*Name: value/],
      [
        'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}',
        /Content-Length once/,
      ],
      ['POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n{}', /Content-Length.*number of bytes/],
      [
        'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        /Content-Length or Transfer-Encoding: chunked, not both/,
      ],
    ];
    for (const [request, fix] of messages) {
      const raw = await exchange(request);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { message: string } };
      assert.match(body.error.message, fix, JSON.stringify(request));
    }
  });

  it('frames the envelope whole and says the connection closes, with no caching and its request id', async () => {
    const raw = await exchange('GET /a HTTP/1.1\r\nHost x\r\n\r\n');
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    const headers = new Map(
      head
        .split('\r\n')
        .slice(1)
        .map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 2)]),
    );
    const envelope = JSON.parse(body) as { error: { code: string; requestId: string } };
    assert.equal(headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(headers.get('connection'), 'close');
    assert.equal(headers.get('cache-control'), 'no-store');
    assert.match(envelope.error.requestId, /^[0-9a-f-]{36}$/);
    assert.equal(headers.get('x-request-id'), envelope.error.requestId);
  });

  it('closes the connection without an error answer when the answer to the failed request has begun', async () => {
    const raw = await exchangeUntilClosed(
      'POST /streaming HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nZZZ\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(raw, /partial answer/);
    assert.doesNotMatch(raw, /MALFORMED_REQUEST/, 'an error was written into the answer under way');
  });

  it('writes nothing to a connection its peer reset', async () => {
    const raw = await new Promise<string>((resolve) => {
      const peer = createNetServer((socket) => {
        // The fault: node:http reports the peer's reset on a socket still open for writing.
        answerClientError(
          Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
          socket,
          8192,
          new Metrics(),
        );
      });
      peer.listen(0, '127.0.0.1', () => {
        const client = connect((peer.address() as AddressInfo).port, '127.0.0.1');
        let text = '';
        client.on('data', (chunk) => (text += chunk.toString()));
        client.on('error', () => {});
        client.on('close', () => peer.close(() => resolve(text)));
      });
    });
    assert.equal(raw, '');
  });
});
