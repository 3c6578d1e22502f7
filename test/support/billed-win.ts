import assert from 'node:assert/strict';
import { api } from './server.js';
import type { TestServer } from './server.js';
import { CHROME } from './user-agents.js';

/**
 * Registers one web banner win (auction `auctionId`, seat `seat-1`, price 2, its DSP burl `burl`
 * where given) with the administrator key, and fires its notice as a browser; answers the notice's
 * status.
 */
export async function fireWinNotice(
  tally: Pick<TestServer, 'url' | 'adminKey'>,
  auctionId: string,
  burl?: string,
): Promise<number> {
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
    wins: [
      {
        request: { id: auctionId, imp: [{ id: '1', banner: {} }], site: {} },
        seat: 'seat-1',
        bid: { id: 'b1', impid: '1', price: 2, adm: '<p>ad</p>', burl },
      },
    ],
  });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  const [win] = registered.body.results;
  assert.equal(win.ok, true, JSON.stringify(win));
  const notice = await fetch(win.noticeUrls[win.method], { headers: { 'user-agent': CHROME } });
  await notice.arrayBuffer();
  return notice.status;
}

/**
 * Registers one web banner win whose DSP burl is `burl` and fires its notice as a browser (see
 * {@link fireWinNotice}), so that it counts and its burl is queued.
 */
export async function countWinWithBurl(tally: TestServer, auctionId: string, burl: string): Promise<void> {
  assert.equal(await fireWinNotice(tally, auctionId, burl), 200);
}
