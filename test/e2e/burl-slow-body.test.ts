import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { countWinWithBurl } from '../support/billed-win.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/**
 * A DSP that takes every burl with a 200 at once and then sends a body that never ends, a byte
 * every 50 ms, as a DSP streaming its answer (or one whose proxy stalls) does.
 */
let dsp: Server;
let dspUrl: string;
const billed: string[] = [];
let tally: TestServer;

before(async () => {
  dsp = createServer((req, res) => {
    billed.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'text/plain' }).write('o');
    const timer = setInterval(() => res.write('k'), 50);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
  dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
  // A time limit the DSP's 200 comes well within even on a loaded machine (with 500 ms the answer
  // itself was sometimes late, and the call tried again), which its body, never ending, outlasts;
  // and a short retry interval, so that a relay that waits for the body retries soon.
  tally = await startServer({ TALLY_BURL_TIMEOUT_MS: '5000', TALLY_BURL_RETRY_SECONDS: '1' });
});

after(async () => {
  await tally?.dispose();
  dsp?.closeAllConnections();
  await new Promise<void>((resolve) => dsp?.close(() => resolve()));
});

/** Polls `GET /v1/deliveries?status=…` until a delivery whose URL includes `part` is listed. */
async function listed(status: string, part: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await api(tally, tally.adminKey, 'GET', `/v1/deliveries?status=${status}&limit=1000`);
    const found = page.body.deliveries.find((delivery: any) => delivery.url.includes(part));
    if (found !== undefined) return found;
    if (Date.now() > deadline)
      throw new Error(`no ${status} delivery of ${part}: ${JSON.stringify(page.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('relaying the DSP burl', () => {
  it('bills the DSP once when it answers 200 with a body slower than the time limit, and marks it delivered', async () => {
    await countWinWithBurl(
      tally,
      'slow-body-1',
      `${dspUrl}/bill?auction=\${AUCTION_ID}&price=\${AUCTION_PRICE}`,
    );
    const delivery = await listed('delivered', 'auction=slow-body-1');
    assert.equal(delivery.attempts, 1);
    assert.deepEqual(billed, ['/bill?auction=slow-body-1&price=2']);
  });
});
