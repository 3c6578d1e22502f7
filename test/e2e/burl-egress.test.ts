import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { until } from '../support/until.js';
import { CHROME } from '../support/user-agents.js';

let tally: TestServer;
let dsp: FakeDsp;

before(async () => {
  dsp = await startDsp();
  // The default policy, which the other end-to-end suites relax for their loopback DSP.
  tally = await startServer({ TALLY_BURL_PRIVATE_NETWORKS: '' });
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
});

/**
 * Registers a banner win of auction `auctionId` for `seat` whose burl is the loopback DSP's, and
 * fires its notice.
 */
async function fireNoticeWithLoopbackBurl(auctionId: string, seat = 'seat-1'): Promise<Response> {
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
    wins: [
      {
        request: { id: auctionId, imp: [{ id: '1', banner: {} }], site: {} },
        seat,
        bid: { id: 'b1', impid: '1', price: 1, adm: '<p>ad</p>', burl: `${dsp.url}/bill?a=\${AUCTION_ID}` },
      },
    ],
  });
  const [win] = registered.body.results;
  return fetch(win.noticeUrls[win.method], { headers: { 'user-agent': CHROME } });
}

describe('relaying burls from a default Tally', () => {
  it('never calls a burl on an address outside the public internet: the delivery is dead at once, with the reason', async () => {
    const notice = await fireNoticeWithLoopbackBurl('egress-1');
    assert.equal(notice.status, 200);
    // Given up by the outbox on its own thread, after the notice was answered.
    const dead = await until(async () => {
      const listed = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=dead');
      return listed.body.deliveries.find((delivery: any) => delivery.url.includes('a=egress-1'));
    }, 'the delivery dead');
    assert.equal(dead.attempts, 1);
    assert.match(dead.lastError, /127\.0\.0\.1 is an address outside the public internet/);
    assert.deepEqual(dsp.hits, []);
  });
});

describe('listing burl deliveries', () => {
  it('pages newest first and gives a next cursor only when another page follows', async () => {
    await fireNoticeWithLoopbackBurl('egress-2');
    const page = async (query: string) =>
      (await api(tally, tally.adminKey, 'GET', `/v1/deliveries?${query}`)).body;
    await until(async () => (await page('status=dead')).deliveries.length >= 2, 'two dead deliveries');
    const first = await page('status=dead&limit=1');
    assert.deepEqual(
      first.deliveries.map((delivery: any) => delivery.url.replace(/^.*a=/, '')),
      ['egress-2'],
    );
    assert.notEqual(first.next, null);
    const second = await page(`status=dead&limit=1&after=${first.next}`);
    assert.deepEqual(
      second.deliveries.map((delivery: any) => delivery.url.replace(/^.*a=/, '')),
      ['egress-1'],
    );
    assert.equal(second.next, null, 'the last page, though full, has no next');
    assert.equal((await page('status=dead&limit=2')).next, null);
  });

  it('lists one seat’s deliveries alone with seat, as the notices of its wins queued them', async () => {
    await fireNoticeWithLoopbackBurl('egress-3', 'seat-2');
    const auctions = async (query: string) => {
      const listed = await api(tally, tally.adminKey, 'GET', `/v1/deliveries?${query}`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body.deliveries.map((delivery: any) => `${delivery.auctionId} ${delivery.seat}`);
    };
    await until(
      async () => (await auctions('status=dead&seat=seat-2')).length >= 1,
      'the dead delivery of seat-2',
    );
    assert.deepEqual(await auctions('seat=seat-2'), ['egress-3 seat-2']);
    assert.deepEqual(await auctions('seat=seat-1&status=dead'), ['egress-2 seat-1', 'egress-1 seat-1']);
    const first = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?seat=seat-1&limit=1');
    assert.deepEqual(await auctions(`seat=seat-1&after=${first.body.next}`), ['egress-1 seat-1']);
    assert.deepEqual(await auctions('seat=seat-2&auctionId=egress-2'), []);
    const empty = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?seat=');
    assert.deepEqual(
      [empty.status, empty.body.error.code, empty.body.error.message],
      [
        400,
        'VALIDATION_FAILED',
        'seat is empty: give a seat id (SeatBid.seat), or leave seat out to take every one',
      ],
    );
  });

  it('refuses a parameter it does not read or given twice and a cursor that is not one, saying what to send', async () => {
    const misspelt = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?statuss=dead');
    assert.equal(misspelt.status, 400);
    assert.match(
      misspelt.body.error.message,
      /unknown parameter "statuss"; use status, auctionId, seat, from, to, limit, after/,
    );
    const twice = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=dead&status=pending');
    assert.deepEqual(
      [twice.status, twice.body.error.message],
      [400, '"status" is given more than once; give it once'],
    );
    const emptyCursor = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?after=');
    assert.equal(emptyCursor.status, 400);
    assert.match(emptyCursor.body.error.message, /after: send the `next` value of the previous page/);
    const fractionalLimit = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?limit=1e2');
    assert.equal(fractionalLimit.status, 400);
    assert.equal(
      (await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=dead&limit=10')).status,
      200,
    );
  });
});

describe('registering wins on a default Tally', () => {
  it('accepts a win whose burl the relay will refuse, warning that its DSP is never billed, and its delivery dies as warned', async () => {
    const burls = {
      loopback: `${dsp.url}/bill?a=warned-loopback`,
      metadata: 'http://169.254.169.254/latest/meta-data',
      spaceInHost: 'http://dsp .example/bill',
      hostName: 'https://dsp.example/bill',
    };
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
      wins: Object.entries(burls).map(([name, burl]) => ({
        request: { id: `warned-${name}`, imp: [{ id: '1', banner: {} }], site: {} },
        seat: 'seat-3',
        bid: { id: 'b1', impid: '1', price: 1, adm: '<p>ad</p>', burl },
      })),
    });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const [loopback, metadata, spaceInHost, hostName] = registered.body.results;
    for (const result of registered.body.results) assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(loopback.warnings, [
      `bid.burl ${JSON.stringify(burls.loopback)} names 127.0.0.1, an address outside the public internet, which Tally's relay refuses to call: its delivery is dead as soon as the impression counts, so the DSP's billing URL is never called and the DSP is not billed for this win; give the DSP's public host, or set TALLY_BURL_PRIVATE_NETWORKS=allow to call DSPs on private networks`,
    ]);
    assert.match(
      metadata.warnings.join(),
      /names 169\.254\.169\.254, an address outside the public internet/,
    );
    assert.deepEqual(spaceInHost.warnings, [
      `bid.burl "http://dsp .example/bill" is not a valid absolute http(s) URL: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ]);
    assert.deepEqual(hostName.warnings, [], 'a host name is looked up only when called');
    const notice = await fetch(loopback.noticeUrls[loopback.method], { headers: { 'user-agent': CHROME } });
    assert.equal(notice.status, 200);
    const dead = await until(async () => {
      const listed = await api(tally, tally.adminKey, 'GET', '/v1/deliveries?status=dead&seat=seat-3');
      return listed.body.deliveries.find((delivery: any) => delivery.auctionId === 'warned-loopback');
    }, 'the delivery of the loopback burl dead');
    assert.equal(dead.attempts, 1, 'given up at its first attempt');
    assert.deepEqual(dsp.hits, []);
  });
});
