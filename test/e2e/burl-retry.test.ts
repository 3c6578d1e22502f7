import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { countWinWithBurl } from '../support/billed-win.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

/** A DSP that answers every burl 503, keeping when each call came and its headers. */
let dsp: Server;
let dspUrl: string;
const dspCalls: { atMs: number; headers: IncomingHttpHeaders }[] = [];
let tally: TestServer;
const RETRY_SECONDS = 30;

before(async () => {
  dsp = createServer((req, res) => {
    dspCalls.push({ atMs: Date.now(), headers: req.headers });
    res.writeHead(503).end('try later');
  });
  await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
  dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
  tally = await startServer({ TALLY_BURL_RETRY_SECONDS: String(RETRY_SECONDS) });
});

after(async () => {
  await tally?.dispose();
  dsp?.closeAllConnections();
  await new Promise<void>((resolve) => dsp?.close(() => resolve()));
});

describe('retrying the DSP burl', () => {
  it('sets a failing DSP’s next call TALLY_BURL_RETRY_SECONDS after its call began, and sends the device’s IP and User-Agent', async () => {
    await countWinWithBurl(tally, 'retry-1', `${dspUrl}/bill?p=\${AUCTION_PRICE}`);
    const deadline = Date.now() + 60_000;
    let delivery: any;
    while (delivery?.lastError !== 'HTTP 503') {
      if (Date.now() > deadline) assert.fail(`no failed delivery: ${JSON.stringify(delivery)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const page = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?auctionId=retry-1');
      delivery = page.body.deliveries[0];
    }
    assert.equal(delivery.status, 'pending');
    assert.equal(dspCalls.length, 1);
    const [call] = dspCalls;
    // Due one interval after the call began, which was before the DSP saw it.
    const waitMs = delivery.dueMs - (call?.atMs ?? 0);
    assert.ok(
      waitMs <= RETRY_SECONDS * 1000 && waitMs > (RETRY_SECONDS - 5) * 1000,
      `due ${waitMs} ms after the call`,
    );
    assert.equal(call?.headers['x-device-user-agent'], CHROME);
    assert.equal(call?.headers['x-device-ip'], '127.0.0.1');
  });
});
