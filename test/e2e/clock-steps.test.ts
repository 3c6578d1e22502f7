import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { countWinWithBurl } from '../support/billed-win.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { fakeClock } from '../support/fake-clock.js';
import type { FakeClock } from '../support/fake-clock.js';
import { ledgerEventsOf } from '../support/ledger-events.js';
import { CHROME } from '../support/user-agents.js';
import { until } from '../support/until.js';
import { winBody } from '../support/win-body.js';

const TTL_SECONDS = 600;
/** More claims than the claim index of a new ledger (16 slots) keeps before it drops ended ones. */
const CLAIMS_PAST_INDEX = 40;

let clock: FakeClock;
let tally: TestServer;
/** A DSP that answers every burl 503, keeping the auction id of each call. */
let dsp: Server;
let dspUrl: string;
const dspCalls: string[] = [];

before(async () => {
  dsp = createServer((req, res) => {
    dspCalls.push(new URL(req.url ?? '/', 'http://dsp').searchParams.get('auction') ?? '');
    res.writeHead(503).end('try later');
  });
  await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
  dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
  clock = fakeClock();
  tally = await startServer({
    ...clock.env,
    TALLY_RULES: JSON.stringify({
      '*': [{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: TTL_SECONDS }],
    }),
  });
});

after(async () => {
  await tally?.dispose();
  clock?.dispose();
  dsp?.closeAllConnections();
  await new Promise<void>((resolve) => dsp?.close(() => resolve()));
});

/** The delivery of `auctionId`'s burl, once `done` says it is as awaited. */
async function deliveryOf(auctionId: string, done: (delivery: any) => boolean): Promise<any> {
  return until(async () => {
    const page = await api(tally, tally.adminKey, 'GET', `/v1/deliveries?auctionId=${auctionId}`);
    const [delivery] = page.body.deliveries as any[];
    return delivery !== undefined && done(delivery) ? delivery : undefined;
  }, `the delivery of ${auctionId} as awaited`);
}

/** The result of registering a web banner win of auction `auctionId`, auctioned at `auctionTimeMs`. */
async function registered(auctionId: string, auctionTimeMs?: number): Promise<any> {
  const win = winBody(
    { auctionTimeMs },
    { auctionId, bidId: `bid-${auctionId}`, seat: 'dsp-a', publisherId: 'pub-1', price: 2, burl: '' },
  );
  const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return (response.body.results as any[])[0];
}

/** Registers a web banner win of auction `auctionId`, auctioned now by Tally's clock; its adm notice URL. */
async function registerWin(auctionId: string): Promise<string> {
  const result = await registered(auctionId);
  assert.equal(result.ok, true, JSON.stringify(result));
  return result.noticeUrls.adm as string;
}

async function fire(url: string): Promise<number> {
  const response = await fetch(url, { headers: { 'user-agent': CHROME } });
  await response.arrayBuffer();
  return response.status;
}

/** The outcome (and reason) of each notice of `auctionId`, in the order recorded. */
function outcomesOf(auctionId: string): string[] {
  return ledgerEventsOf(tally.dataDir, [auctionId]).map(({ outcome, reason }) =>
    reason === '' ? outcome : `${outcome}/${reason}`,
  );
}

describe("Tally's wall clock stepped while it serves", () => {
  it('counts an impression once though the clock went a day forward and back between its notices', async () => {
    const url = await registerWin('stepped-day');
    assert.equal(await fire(url), 200);
    clock.step('+1d');
    // A day on, the TTL is long past: late, and the claim is past its end by the clock.
    assert.equal(await fire(url), 200);
    // Impressions counted meanwhile fill the claim index, which drops claims ended by then.
    for (let index = 0; index < CLAIMS_PAST_INDEX; index++)
      assert.equal(await fire(await registerWin(`a-day-on-${index}`)), 200);
    clock.step('+0');
    // Back within the TTL: the claim still holds, whatever the index dropped meanwhile.
    assert.equal(await fire(url), 200);
    assert.deepEqual(outcomesOf('stepped-day'), ['counted', 'not_counted/late', 'not_counted/duplicate']);
    // Each step logged, for the operator to mend the clock.
    const logged = (event: string) => tally.output().includes(`"event":"${event}"`);
    await until(
      () => Promise.resolve(logged('clock_stepped_forward') && logged('clock_stepped_back')),
      'clock_stepped_forward and clock_stepped_back logged',
    );
  });

  it('measures the TTL from the auction time, not from a clock stepped back after the win', async () => {
    const url = await registerWin('stepped-back');
    clock.step('-1h');
    // An hour "before" the auction by Tally's clock: within its TTL, counted once.
    assert.equal(await fire(url), 200);
    assert.equal(await fire(url), 200);
    clock.step('+0');
    assert.equal(await fire(url), 200);
    assert.deepEqual(outcomesOf('stepped-back'), [
      'counted',
      'not_counted/duplicate',
      'not_counted/duplicate',
    ]);
  });

  it("calls a failing DSP's burl once more, then gives it up, when the clock steps past its deadline", async () => {
    await countWinWithBurl(tally, 'stepped-deadline', `${dspUrl}/bill?auction=\${AUCTION_ID}`);
    const failed = await deliveryOf('stepped-deadline', (delivery) => delivery.lastError === 'HTTP 503');
    // Its first call failed and ended; the next is due an interval after it began.
    assert.deepEqual([failed.status, failed.attempts], ['pending', 1]);
    // Four hours on, past the deadline three hours after the auction: one last call, at once.
    clock.step('+4h');
    const dead = await deliveryOf('stepped-deadline', (delivery) => delivery.status === 'dead');
    clock.step('+0');
    assert.deepEqual([dead.attempts, dead.lastError], [2, 'HTTP 503']);
    assert.deepEqual(
      dspCalls.filter((auctionId) => auctionId === 'stepped-deadline'),
      ['stepped-deadline', 'stepped-deadline'],
    );
  });

  it("refuses an exchange's right auction time while Tally's clock is an hour behind, naming both", async () => {
    clock.step('-1h');
    const auctionTimeMs = Date.now();
    const result = await registered('clock-behind', auctionTimeMs);
    clock.step('+0');
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'VALIDATION_FAILED');
    const tallyTime = /ahead of Tally's clock \(([^)]+)\)/.exec(result.error.message)?.[1] ?? '';
    const behindMs = auctionTimeMs - Date.parse(tallyTime);
    assert.equal(Math.round(behindMs / 60_000), 60, `Tally's clock read ${tallyTime}`);
    assert.match(
      result.error.message,
      new RegExp(
        `^auctionTimeMs ${auctionTimeMs} \\(${new Date(auctionTimeMs).toISOString().replace(/\./g, '\\.')}\\) is \\d+ ms ahead of Tally's clock .*; if it was, Tally's clock is behind, for its operator to set$`,
      ),
    );
  });
});
