import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { endStalledConnection, trackAnswer } from './client-error.js';

/** The server's socket timeout, short for the test. */
const TIMEOUT_MS = 200;
/** `/slow` is answered after this long: several timeouts without a byte on its connection. */
const SLOW_ANSWER_MS = 5 * TIMEOUT_MS;
/** A test's limit: a connection the server never closes would otherwise hold it for good. */
const TEST_TIMEOUT = { timeout: 10_000 };
/** `/large`'s answer: more than the kernel's buffers on loopback hold with a few pipelined. */
const LARGE_BODY = Buffer.alloc(4 * 1024 * 1024, 'a');

const server = createServer((req, res) => {
  req.resume();
  if (req.url === '/slow') setTimeout(() => res.end('slow answer'), SLOW_ANSWER_MS);
  else if (req.url === '/large') res.end(LARGE_BODY);
  else res.end('answer');
});
server.prependListener('request', trackAnswer);
server.timeout = TIMEOUT_MS;
server.keepAliveTimeout = TIMEOUT_MS;
server.on('timeout', endStalledConnection);

let port = 0;

before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

/** Opens a connection and writes `requests` to it. */
async function connected(requests: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(requests);
  return socket;
}

/** Everything the server sent until it closed the connection. */
async function readToClose(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await once(socket, 'close');
  return text;
}

/** How many connections the server holds. */
function serverConnections(): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error === null ? resolve(count) : reject(error))),
  );
}

describe('a connection node:http finds without activity for its timeout', () => {
  it(
    'is kept while its answer is still being prepared, however long, and gets that answer',
    TEST_TIMEOUT,
    async () => {
      const socket = await connected('GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const answer = await readToClose(socket);
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nslow answer$/);
    },
  );

  it(
    'is kept while an answer is still being prepared, though one pipelined behind it is ready and waits for it',
    TEST_TIMEOUT,
    async () => {
      const socket = await connected(
        'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /quick HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      const answer = await readToClose(socket);
      assert.match(
        answer,
        /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nslow answerHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nanswer$/,
      );
    },
  );

  it(
    'is closed once idle after its answers, as node:http closes a keep-alive connection',
    TEST_TIMEOUT,
    async () => {
      const socket = await connected('GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
      const answer = await readToClose(socket);
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nanswer$/);
    },
  );

  it(
    'is closed when its client stops reading an answer, the answer and those queued behind it dropped',
    TEST_TIMEOUT,
    async () => {
      const socket = await connected('GET /large HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(8));
      socket.pause();
      const closed = once(socket, 'close');
      // Up to twice the timeout (a write that moved since the last look is progress), with room.
      const deadlineMs = Date.now() + 20 * TIMEOUT_MS;
      let connections = await serverConnections();
      while (connections > 0 && Date.now() < deadlineMs) {
        await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 4));
        connections = await serverConnections();
      }
      assert.equal(connections, 0, 'the server still holds the connection of a client that reads nothing');
      socket.resume();
      await closed;
    },
  );
});
