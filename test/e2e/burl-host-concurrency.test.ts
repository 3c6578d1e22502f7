import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { countWinWithBurl } from '../support/billed-win.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const HOST_CONCURRENCY = 2;
const WINS = 5;
/** Several of the relay's 200 ms polls: time enough for it to start a call it may start. */
const SEVERAL_POLLS_MS = 1_000;

/** A DSP that holds every burl call open until released, keeping the calls still open. */
let dsp: Server;
let dspUrl: string;
const held: ServerResponse[] = [];
let answered = 0;
let releasing = false;
let tally: TestServer;

before(async () => {
  dsp = createServer((_req, res) => {
    if (releasing) {
      answered += 1;
      res.writeHead(200).end('ok');
      return;
    }
    held.push(res);
    // A call Tally gave up on (its time limit) is no longer in flight.
    res.on('close', () => {
      if (!res.writableEnded) held.splice(held.indexOf(res), 1);
    });
  });
  await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
  dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
  tally = await startServer({
    TALLY_BURL_CONCURRENCY: '8',
    TALLY_BURL_HOST_CONCURRENCY: String(HOST_CONCURRENCY),
  });
});

after(async () => {
  await tally?.dispose();
  dsp?.closeAllConnections();
  await new Promise<void>((resolve) => dsp?.close(() => resolve()));
});

/** Waits until `condition` holds, running `refresh` before each look; fails after 30 s. */
async function until(
  condition: () => boolean,
  what: string,
  refresh: () => Promise<void> = async () => {},
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (await refresh(); !condition(); await refresh()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('calling one DSP host', () => {
  it('keeps at most TALLY_BURL_HOST_CONCURRENCY calls in flight to one host, and calls the rest once those are answered', async () => {
    for (let index = 0; index < WINS; index++) {
      await countWinWithBurl(tally, `host-${index}`, `${dspUrl}/bill?i=${index}`);
    }
    await until(() => held.length >= HOST_CONCURRENCY, `${HOST_CONCURRENCY} calls are in flight`);
    await new Promise((resolve) => setTimeout(resolve, SEVERAL_POLLS_MS));
    assert.equal(held.length, HOST_CONCURRENCY, 'calls in flight to the one host');

    releasing = true;
    for (const res of held) {
      answered += 1;
      res.writeHead(200).end('ok');
    }
    await until(() => answered === WINS, `the DSP answered all ${WINS} burls`);
    let delivered = 0;
    await until(
      () => delivered === WINS,
      `all ${WINS} deliveries are delivered`,
      async () => {
        const page = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=delivered');
        delivered = page.body.deliveries.length;
      },
    );
  });
});
