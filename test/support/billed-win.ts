import assert from 'node:assert/strict';
import { api } from './server.js';
import type { TestServer } from './server.js';
import { CHROME } from './user-agents.js';

/**
 * Registers one web banner win (auction `auctionId`, seat `seat-1`, price 2) whose DSP burl is
 * `burl`, and fires its notice as a browser, so that it counts and its burl is queued.
 */
export async function countWinWithBurl(tally: TestServer, auctionId: string, burl: string): Promise<void> {
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
    wins: [
      {
        request: { id: auctionId, imp: [{ id: '1', banner: {} }], site: {} },
        seat: 'seat-1',
        bid: { id: 'b1', impid: '1', price: 2, adm: '<p>ad</p>', burl },
      },
    ],
  });
  const [win] = registered.body.results;
  assert.equal(win.ok, true, JSON.stringify(win));
  const notice = await fetch(win.noticeUrls[win.method], { headers: { 'user-agent': CHROME } });
  assert.equal(notice.status, 200);
}
