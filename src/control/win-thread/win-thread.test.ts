import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openToken } from '../../domain/token.js';
import { priceKeyName } from '../../domain/price-crypto.js';
import { threadKeys } from '../../thread-keys.js';
import type { WinSettings } from './protocol.js';
import type { WinsCall } from './win-thread.js';
import { WinsAbandonedError, WinsBusyError, WinThread } from './win-thread.js';
import { testKeyRing } from '../../../test/support/claims.js';

const ring = testKeyRing();
const settings: WinSettings = {
  ...threadKeys(ring, new Map()),
  publicUrl: 'https://tally.example',
  rules: [['pub-short', [{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 60 }]]],
};

/** A call of `accountId` with `text` as its body, arrived now. */
function call(accountId: number, text: string): WinsCall {
  return { accountId, body: text, receivedMs: Date.now() };
}

function body(publisherId: string): string {
  return JSON.stringify({
    wins: [
      {
        request: {
          id: `auction-${publisherId}`,
          imp: [{ id: '1', banner: {} }],
          site: { publisher: { id: publisherId } },
        },
        seat: 's1',
        bid: { id: 'b1', impid: '1', price: 1, adm: '<p>ad</p>' },
      },
    ],
  });
}

describe('the wins thread', () => {
  it('instruments wins on its own thread with the keys, public URL and per-publisher rules it was started with', async () => {
    const thread = new WinThread(settings);
    try {
      const answer = await thread.register(call(7, body('pub-short')));
      assert.ok(answer.ok);
      const [result] = (
        JSON.parse(answer.json) as { results: { ttlSeconds: number; noticeUrls: { adm: string } }[] }
      ).results;
      assert.equal(result?.ttlSeconds, 60, 'the publisher’s own rule');
      assert.ok(result?.noticeUrls.adm.startsWith('https://tally.example/n/'));
      const opened = openToken(result?.noticeUrls.adm.split('/').at(-1) ?? '', ring);
      assert.ok(
        opened.ok && opened.claims.accountId === 7 && opened.claims.auctionId === 'auction-pub-short',
      );
      const other = await thread.register(call(7, body('pub-other')));
      assert.ok(other.ok);
      assert.equal(
        (JSON.parse(other.json) as { results: { ttlSeconds: number }[] }).results[0]?.ttlSeconds,
        600,
      );
    } finally {
      await thread.close();
    }
  });

  it('reads the seats’ price keys and the clock it was started with: a seat with keys is not warned about encrypted prices, and a win without a time is won now', async () => {
    const priceKeys = { encryptionKey: Buffer.alloc(32, 1), integrityKey: Buffer.alloc(32, 2) };
    const thread = new WinThread({
      ...settings,
      ...threadKeys(ring, new Map([[priceKeyName(1, 'enc-seat'), priceKeys]])),
    });
    try {
      const wins = ['enc-seat', 'plain-seat'].map((seat) => {
        const [win] = (JSON.parse(body('p')) as { wins: { bid: object }[] }).wins;
        return { ...win, seat, bid: { ...win?.bid, burl: 'https://dsp.example/b?p=${AUCTION_PRICE:BF}' } };
      });
      const startedMs = Date.now();
      const answer = await thread.register(call(1, JSON.stringify({ wins })));
      assert.ok(answer.ok);
      const [keyed, plain] = (
        JSON.parse(answer.json) as { results: { warnings: string[]; noticeUrls: { adm: string } }[] }
      ).results;
      assert.deepEqual(keyed?.warnings, []);
      assert.match(plain?.warnings.join() ?? '', /seat "plain-seat" has no price keys/);
      const opened = openToken(keyed?.noticeUrls.adm.split('/').at(-1) ?? '', ring);
      assert.ok(opened.ok);
      assert.ok(opened.claims.auctionTimeMs >= startedMs && opened.claims.auctionTimeMs <= Date.now());
    } finally {
      await thread.close();
    }
  });

  it('fails the call of a thread that died and starts a new thread for the next one', async () => {
    const thread = new WinThread(settings);
    try {
      await thread.register(call(1, body('p')));
      // Fault injection: the thread is stopped with a call on its way.
      const stopped = thread['thread']['worker']?.terminate();
      const lost = thread.register(call(1, body('p')));
      await stopped;
      await assert.rejects(lost, /the wins thread exited/);
      assert.ok((await thread.register(call(1, body('p')))).ok);
    } finally {
      await thread.close();
    }
  });

  it('times a win that gives no auction time when its call arrived, not when the thread reached it', async () => {
    const thread = new WinThread(settings);
    try {
      const arrivedMs = Date.now() - 30_000;
      const answer = await thread.register({ accountId: 1, body: body('p'), receivedMs: arrivedMs });
      assert.ok(answer.ok);
      const [result] = (JSON.parse(answer.json) as { results: { noticeUrls: { adm: string } }[] }).results;
      const opened = openToken(result?.noticeUrls.adm.split('/').at(-1) ?? '', ring);
      assert.ok(opened.ok);
      assert.equal(opened.claims.auctionTimeMs, arrivedMs);
    } finally {
      await thread.close();
    }
  });

  it('refuses a call past the characters it lets wait, taking the first however large, and drops a call whose caller went away', async () => {
    const small = body('p');
    const thread = new WinThread(settings, small.length * 2);
    try {
      const gone = new AbortController();
      const first = thread.register(call(1, small));
      const abandoned = thread.register({ ...call(1, small), abandoned: gone.signal });
      const second = thread.register(call(1, small));
      // Two wait: a third would take them past the bound.
      await assert.rejects(thread.register(call(1, small)), WinsBusyError);
      gone.abort();
      assert.ok((await first).ok);
      await assert.rejects(abandoned, WinsAbandonedError);
      assert.ok((await second).ok);
      // Nothing waits: a call larger than the bound is taken.
      const large = JSON.stringify({ wins: Array.from({ length: 5 }, () => JSON.parse(small).wins[0]) });
      assert.ok(large.length > small.length * 2);
      assert.ok((await thread.register(call(1, large))).ok);
    } finally {
      await thread.close();
    }
  });
});
