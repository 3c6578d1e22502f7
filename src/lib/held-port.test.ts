import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { RequestListener } from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { holdPort } from './held-port.js';

/** Listens `server` on `port` of the loopback address; resolves with the error of `listen`, if any. */
function listenOn(server: Server, port: number): Promise<string> {
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
    server.listen(port, '127.0.0.1', () => resolve('listening'));
  });
}

/** A loopback port free a moment ago: bound, read, and closed again. */
async function freePort(): Promise<number> {
  const probe = createServer();
  assert.equal(await listenOn(probe, 0), 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Answers every request 503 with the text `starting`, as a start's placeholder would. */
const answerStarting: RequestListener = (_req, res) => {
  res.writeHead(503, { 'Content-Type': 'text/plain', 'Content-Length': 8 });
  res.end('starting');
};

/** A connection to the loopback `port`, and everything it reads until it is closed. */
async function connection(port: number): Promise<{ socket: Socket; closed: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  let read = '';
  socket.on('data', (chunk: Buffer) => (read += chunk.toString('latin1')));
  // A connection reset is a close here: what was read before it is what counts.
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => read);
  await once(socket, 'connect');
  return { socket, closed };
}

describe('a held port', () => {
  it('is free again once released after a hand-over that failed', async () => {
    const port = await freePort();
    const held = await holdPort(port, '127.0.0.1', answerStarting, 100);
    // The fault: a server that listens already cannot take the held port over.
    const busy = createServer();
    assert.equal(await listenOn(busy, 0), 'listening');
    await assert.rejects(held.handOver(busy), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    await held.release();
    const next = createServer();
    assert.equal(await listenOn(next, port), 'listening');
    await new Promise<void>((resolve) => next.close(() => resolve()));
    await new Promise<void>((resolve) => busy.close(() => resolve()));
  });

  it('answers each request with the answer given, with Connection: close, and then closes its connection', async () => {
    const port = await freePort();
    const held = await holdPort(port, '127.0.0.1', answerStarting, 100);
    try {
      const { socket, closed } = await connection(port);
      socket.write('GET /healthz HTTP/1.1\r\nHost: tally\r\n\r\n');
      const answer = await closed;
      assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.match(answer, /\r\nConnection: close\r\n/);
      assert.equal(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'starting');
    } finally {
      await held.release();
    }
  });

  it('still answers a request begun before the hand-over, closes the connections idle then, and leaves new ones to the server', async () => {
    const port = await freePort();
    const held = await holdPort(port, '127.0.0.1', answerStarting, 100);
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { Connection: 'close', 'Content-Length': 6 });
      res.end('served');
    });
    try {
      const begun = await connection(port);
      const idle = await connection(port);
      begun.socket.write('GET /v1/reports HTTP/1.1\r\n');
      // Once the held port read it, as its event loop polls next (the bytes are in its socket's
      // buffer already: this process wrote them on loopback): the request has begun there.
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
      await held.handOver(server);
      begun.socket.write('Host: tally\r\n\r\n');
      const [begunAnswer, idleAnswer] = await Promise.all([begun.closed, idle.closed]);
      assert.equal(begunAnswer.slice(begunAnswer.indexOf('\r\n\r\n') + 4), 'starting');
      assert.equal(idleAnswer, '');
      const next = await connection(port);
      next.socket.write('GET / HTTP/1.1\r\nHost: tally\r\n\r\n');
      const nextAnswer = await next.closed;
      assert.equal(nextAnswer.slice(nextAnswer.indexOf('\r\n\r\n') + 4), 'served');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('closes a connection past maxConnections as it accepts it, unanswered, and takes new ones once others close', async () => {
    const port = await freePort();
    const held = await holdPort(port, '127.0.0.1', answerStarting, 2);
    try {
      const open = [await connection(port), await connection(port)];
      const third = await connection(port);
      third.socket.write('GET /healthz HTTP/1.1\r\nHost: tally\r\n\r\n');
      assert.equal(await third.closed, '', 'the connection past the cap is closed without an answer');
      open[0]?.socket.write('GET /healthz HTTP/1.1\r\nHost: tally\r\n\r\n');
      const firstAnswer = await open[0]?.closed;
      assert.match(firstAnswer ?? '', /^HTTP\/1\.1 503 /);
      const fourth = await connection(port);
      fourth.socket.write('GET /healthz HTTP/1.1\r\nHost: tally\r\n\r\n');
      const fourthAnswer = await fourth.closed;
      assert.equal(fourthAnswer.slice(fourthAnswer.indexOf('\r\n\r\n') + 4), 'starting');
      open[1]?.socket.destroy();
    } finally {
      await held.release();
    }
  });

  it('closes the connections still open when released, requests begun on them unanswered', async () => {
    const port = await freePort();
    const held = await holdPort(port, '127.0.0.1', answerStarting, 100);
    const begun = await connection(port);
    begun.socket.write('GET /healthz HTTP/1.1\r\n');
    // Once the held port accepted the connection and read the bytes, as its event loop polls next.
    await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    await held.release();
    assert.equal(await begun.closed, '');
  });
});
