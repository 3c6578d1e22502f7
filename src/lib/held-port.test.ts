import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { describe, it } from 'node:test';
import { holdPort } from './held-port.js';

/** Listens `server` on `port` of the loopback address; resolves with the error of `listen`, if any. */
function listenOn(server: Server, port: number): Promise<string> {
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
    server.listen(port, '127.0.0.1', () => resolve('listening'));
  });
}

describe('a held port', () => {
  it('is free again once released after a hand-over that failed', async () => {
    // A free port: bound, read, and closed again.
    const probe = createServer();
    assert.equal(await listenOn(probe, 0), 'listening');
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const held = await holdPort(port, '127.0.0.1');
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
});
