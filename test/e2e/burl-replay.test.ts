import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DELIVERY_WINDOW_MS } from '../../src/hot/notice-event.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { api, runCli, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { until } from '../support/until.js';
import { CHROME } from '../support/user-agents.js';

let tally: TestServer;
let dsp: FakeDsp;

before(async () => {
  dsp = await startDsp();
  tally = await startServer({});
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
});

const VAST =
  '<VAST version="4.0"><Ad id="1"><InLine><AdSystem>dsp</AdSystem><AdTitle>ad</AdTitle>' +
  '<Creatives><Creative><Linear><Duration>00:00:10</Duration><MediaFiles>' +
  '<MediaFile delivery="progressive" type="video/mp4" width="640" height="360">https://cdn.example/a.mp4</MediaFile>' +
  '</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>';

/** Waits for `/metrics` to show `tally_burl_outbox{status}` at `count` (it is counted once a second). */
function outboxShows(status: string, count: number): Promise<unknown> {
  return until(async () => {
    const text = await (await fetch(`${tally.url}/metrics`)).text();
    return text.split('\n').includes(`tally_burl_outbox{status="${status}"} ${count}`);
  }, `tally_burl_outbox{status="${status}"} ${count}`);
}

/** The delivery of `auctionId`'s impression, once `ready` holds of it. */
function deliveryOf(auctionId: string, ready: (delivery: any) => boolean, what: string): Promise<any> {
  return until(async () => {
    const page = await api(tally, tally.adminKey, 'GET', `/v1/deliveries?auctionId=${auctionId}`);
    const [delivery] = page.body.deliveries;
    return delivery !== undefined && ready(delivery) && delivery;
  }, what);
}

describe('replaying dead burl deliveries while Tally runs', () => {
  it('has the running relay call a dead delivery again, under its delivery id, once replay-dead makes it pending, /metrics showing it dead then not; a second replay finds none to replay', async () => {
    // An in-app video impression, whose VAST <Impression> counts for three hours: registered with
    // an auction time three hours less a few seconds ago, its delivery's deadline comes seconds
    // after it counts. The DSP fails its first call and the one at the deadline.
    dsp.failNext('/replay', 2);
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
      wins: [
        {
          auctionTimeMs: Date.now() - DELIVERY_WINDOW_MS + 8_000,
          request: { id: 'replayed', imp: [{ id: '1', video: { mimes: ['video/mp4'] } }], app: {} },
          seat: 'seat-1',
          bid: {
            id: 'b1',
            impid: '1',
            price: 2,
            adm: VAST,
            burl: `${dsp.url}/replay?auction=\${AUCTION_ID}&price=\${AUCTION_PRICE}`,
          },
        },
      ],
    });
    const [win] = registered.body.results;
    assert.deepEqual([win.ok, win.method], [true, 'vast'], JSON.stringify(win));
    const notice = await fetch(win.noticeUrls.vast, { headers: { 'user-agent': CHROME } });
    assert.equal(notice.status, 200);
    const dead = await deliveryOf('replayed', (delivery) => delivery.status === 'dead', 'the delivery dead');
    assert.deepEqual([dead.attempts, dead.lastError, dsp.hits.length], [2, 'HTTP 500', 0]);
    await outboxShows('dead', 1);

    const host = new URL(dsp.url).host;
    const replayed = await runCli(['replay-dead', '--host', host], { TALLY_DATA_DIR: tally.dataDir });
    assert.deepEqual(
      [replayed.code, replayed.stdout],
      [0, '1 dead delivery is pending again\n'],
      replayed.stderr,
    );
    const delivered = await deliveryOf(
      'replayed',
      (delivery) => delivery.status === 'delivered',
      'the replayed delivery delivered',
    );
    assert.equal(delivered.attempts, 1);
    // The dead gauge goes down with the replay, as an alert on dead deliveries resolves.
    await outboxShows('dead', 0);
    await outboxShows('delivered', 1);
    assert.deepEqual(
      dsp.hits.map((hit) => [hit.path, hit.query.toString(), hit.headers['x-tally-delivery-id']]),
      [['/replay', 'auction=replayed&price=2', String(dead.id)]],
    );

    const again = await runCli(['replay-dead'], { TALLY_DATA_DIR: tally.dataDir });
    assert.deepEqual([again.code, again.stdout], [0, '0 dead deliveries are pending again\n'], again.stderr);
  });
});
