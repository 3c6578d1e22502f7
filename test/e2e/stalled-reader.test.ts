import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { until } from '../support/until.js';

/** Connections that ask for answers and never read them. */
const STALLED_CONNECTIONS = 40;
/** Requests pipelined on each: more answer bytes than the kernel's buffers hold (the OpenAPI document is 600 KB). */
const REQUESTS_PER_CONNECTION = 20;
/**
 * How long an answer may stall before its connection is closed (`TALLY_SEND_TIMEOUT_SECONDS`),
 * well short of the default 30 s.
 */
const SEND_TIMEOUT_SECONDS = 5;
const SEND_TIMEOUT_MS = SEND_TIMEOUT_SECONDS * 1000;
/**
 * Longer than an answer may stall before its connection is closed (up to twice the send timeout),
 * with room for a loaded machine, yet short of the default send timeout.
 */
const CLOSED_WITHIN_MS = 2 * SEND_TIMEOUT_MS + 15_000;

let tally: TestServer;

before(async () => {
  tally = await startServer({ TALLY_SEND_TIMEOUT_SECONDS: String(SEND_TIMEOUT_SECONDS) });
});

after(async () => {
  await tally?.dispose();
});

/** How many TCP sockets (the listening one included) the server process holds open. */
function serverSockets(): number {
  const fdDir = `/proc/${tally.pid()}/fd`;
  let sockets = 0;
  for (const fd of readdirSync(fdDir)) {
    try {
      if (readlinkSync(`${fdDir}/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // Closed between the listing and the read.
    }
  }
  return sockets;
}

/** A connection that sends `request` `times` times, pipelined, and never reads an answer. */
function stalledConnection(request: string, times: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(tally.port, '127.0.0.1', () => {
      socket.write(request.repeat(times));
      resolve(socket);
    });
    socket.pause();
    socket.on('error', () => {});
  });
}

describe('a client that asks for answers and never reads them', () => {
  it('has its connection closed by the server once its answers stop moving, not held (with their bytes) for good', async () => {
    const baseline = serverSockets();
    const request = `GET /docs HTTP/1.1\r\nHost: 127.0.0.1:${tally.port}\r\n\r\n`;
    const sockets = await Promise.all(
      Array.from({ length: STALLED_CONNECTIONS }, () => stalledConnection(request, REQUESTS_PER_CONNECTION)),
    );
    try {
      await until(
        () => Promise.resolve(serverSockets() >= baseline + STALLED_CONNECTIONS),
        'the server holding every stalled connection',
      );
      // The stalled connections the server still holds, looked at until none is or time is up.
      const deadlineMs = Date.now() + CLOSED_WITHIN_MS;
      let stillHeld = Math.max(0, serverSockets() - baseline);
      while (stillHeld > 0 && Date.now() < deadlineMs) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        stillHeld = Math.max(0, serverSockets() - baseline);
      }
      assert.equal(stillHeld, 0, 'stalled connections the server still holds');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('closes a stalled connection no sooner than TALLY_SEND_TIMEOUT_SECONDS after its requests were sent, and soon after twice that at the latest', async () => {
    const connections = 4;
    const baseline = serverSockets();
    const request = `GET /docs HTTP/1.1\r\nHost: 127.0.0.1:${tally.port}\r\n\r\n`;
    // Before the connections open: nothing moves on them earlier, so the timeout cannot end sooner.
    const sentMs = performance.now();
    const sockets = await Promise.all(
      Array.from({ length: connections }, () => stalledConnection(request, REQUESTS_PER_CONNECTION)),
    );
    try {
      await until(
        () => Promise.resolve(serverSockets() >= baseline + connections),
        'the server holding every stalled connection',
      );
      // When a closed connection was first seen, and when the last was, after the requests were
      // sent: the last within CLOSED_WITHIN_MS.
      let firstClosedMs: number | undefined;
      let allClosedMs: number | undefined;
      const deadlineMs = sentMs + CLOSED_WITHIN_MS;
      while (allClosedMs === undefined && performance.now() < deadlineMs) {
        const held = Math.max(0, serverSockets() - baseline);
        const seenMs = performance.now() - sentMs;
        if (held < connections) firstClosedMs ??= seenMs;
        if (held === 0) allClosedMs = seenMs;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(
        {
          closedAfterTheTimeout: firstClosedMs !== undefined && firstClosedMs >= SEND_TIMEOUT_MS,
          allClosedInTime: allClosedMs !== undefined,
        },
        { closedAfterTheTimeout: true, allClosedInTime: true },
        `the first connection closed ${firstClosedMs} ms, the last ${allClosedMs} ms after the requests, the send timeout being ${SEND_TIMEOUT_MS} ms`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
