import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openToken } from '../../domain/token.js';
import { priceKeyName } from '../../domain/price-crypto.js';
import { threadKeys } from '../../thread-keys.js';
import type { WinSettings, WinsReply } from './protocol.js';
import type { WinsCall } from './win-thread.js';
import { WinsAbandonedError, WinsBusyError, WinThreads } from './win-thread.js';
import { testKeyRing } from '../../../test/support/claims.js';

const ring = testKeyRing();
const settings: WinSettings = {
  ...threadKeys(ring, new Map()),
  publicUrl: 'https://tally.example',
  rules: [['pub-short', [{ format: 'banner', channel: 'web', method: 'adm', ttlSeconds: 60 }]]],
  burlPrivateNetworks: 'deny',
};

/** A call of `accountId` with `text` as its body, arrived now. */
function call(accountId: number, text: string): WinsCall {
  return { accountId, body: text, receivedMs: Date.now() };
}

/** The results of a call answered `ok`, read from the bytes the thread handed over. */
function resultsOf<Result>(answer: WinsReply): Result[] {
  assert.ok(answer.ok, JSON.stringify(answer));
  return (JSON.parse(new TextDecoder().decode(answer.jsonBytes)) as { results: Result[] }).results;
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
    const thread = new WinThreads(settings);
    try {
      const [result] = resultsOf<{ ttlSeconds: number; noticeUrls: { adm: string } }>(
        await thread.register(call(7, body('pub-short'))),
      );
      assert.equal(result?.ttlSeconds, 60, 'the publisher’s own rule');
      assert.match(result?.noticeUrls.adm ?? '', /^https:\/\/tally\.example\/n\//);
      const opened = openToken(result?.noticeUrls.adm.split('/').at(-1) ?? '', ring);
      assert.ok(opened.ok, `the notice token opens; got ${JSON.stringify(opened)}`);
      assert.deepEqual([opened.claims.accountId, opened.claims.auctionId], [7, 'auction-pub-short']);
      const [other] = resultsOf<{ ttlSeconds: number }>(await thread.register(call(7, body('pub-other'))));
      assert.equal(other?.ttlSeconds, 600);
    } finally {
      await thread.close();
    }
  });

  it('reads the seats’ price keys and the clock it was started with: a seat with keys is not warned about encrypted prices, and a win without a time is won now', async () => {
    const priceKeys = { encryptionKey: Buffer.alloc(32, 1), integrityKey: Buffer.alloc(32, 2) };
    const thread = new WinThreads({
      ...settings,
      ...threadKeys(ring, new Map([[priceKeyName(1, 'enc-seat'), priceKeys]])),
    });
    try {
      const wins = ['enc-seat', 'plain-seat'].map((seat) => {
        const [win] = (JSON.parse(body('p')) as { wins: { bid: object }[] }).wins;
        return { ...win, seat, bid: { ...win?.bid, burl: 'https://dsp.example/b?p=${AUCTION_PRICE:BF}' } };
      });
      const startedMs = Date.now();
      const [keyed, plain] = resultsOf<{ warnings: string[]; noticeUrls: { adm: string } }>(
        await thread.register(call(1, JSON.stringify({ wins }))),
      );
      assert.deepEqual(keyed?.warnings, []);
      assert.match(plain?.warnings.join() ?? '', /seat "plain-seat" has no price keys/);
      const opened = openToken(keyed?.noticeUrls.adm.split('/').at(-1) ?? '', ring);
      assert.ok(opened.ok, `the notice token opens; got ${JSON.stringify(opened)}`);
      assert.ok(
        opened.claims.auctionTimeMs >= startedMs && opened.claims.auctionTimeMs <= Date.now(),
        `the auction time ${opened.claims.auctionTimeMs} is the call’s, from ${startedMs} to now`,
      );
    } finally {
      await thread.close();
    }
  });

  it('warns of a burl naming a private address as the relay’s TALLY_BURL_PRIVATE_NETWORKS it was started with refuses it', async () => {
    const [win] = (JSON.parse(body('p')) as { wins: { bid: object }[] }).wins;
    const privateBurl = JSON.stringify({
      wins: [{ ...win, bid: { ...win?.bid, burl: 'http://10.1.2.3/bill' } }],
    });
    const warned: Record<string, string[] | undefined> = {};
    for (const burlPrivateNetworks of ['deny', 'allow'] as const) {
      const thread = new WinThreads({ ...settings, burlPrivateNetworks });
      try {
        const [result] = resultsOf<{ warnings: string[] }>(await thread.register(call(1, privateBurl)));
        warned[burlPrivateNetworks] = result?.warnings;
      } finally {
        await thread.close();
      }
    }
    assert.match(warned.deny?.join() ?? '', /names 10\.1\.2\.3, an address outside the public internet/);
    assert.deepEqual(warned.allow, []);
  });

  it('fails the call of a thread that died and starts a new thread for the next one', async () => {
    const thread = new WinThreads(settings);
    try {
      await thread.register(call(1, body('p')));
      // Fault injection: the thread is stopped with a call on its way.
      const stopped = thread['threads'][0]?.['worker']?.terminate();
      const lost = thread.register(call(1, body('p')));
      await stopped;
      await assert.rejects(lost, /the wins thread exited/);
      const next = await thread.register(call(1, body('p')));
      assert.ok(next.ok, `a new thread answers the next call; got ${JSON.stringify(next)}`);
    } finally {
      await thread.close();
    }
  });

  it('times a win that gives no auction time when its call arrived, not when the thread reached it', async () => {
    const thread = new WinThreads(settings);
    try {
      const arrivedMs = Date.now() - 30_000;
      const [result] = resultsOf<{ noticeUrls: { adm: string } }>(
        await thread.register({ accountId: 1, body: body('p'), receivedMs: arrivedMs }),
      );
      const opened = openToken(result?.noticeUrls.adm.split('/').at(-1) ?? '', ring);
      assert.ok(opened.ok, `the notice token opens; got ${JSON.stringify(opened)}`);
      assert.equal(opened.claims.auctionTimeMs, arrivedMs);
    } finally {
      await thread.close();
    }
  });

  it('with two threads, answers a call of one win while a call of thousands is still being registered', async () => {
    const thread = new WinThreads(settings, { threads: 2 });
    try {
      const [win] = (JSON.parse(body('p')) as { wins: unknown[] }).wins;
      const large = JSON.stringify({ wins: Array.from({ length: 5000 }, () => win) });
      const order: string[] = [];
      /** `call`'s answer, its name noted in `order` as it arrives. */
      const noted = async (name: string, sent: WinsCall) => {
        const answer = await thread.register(sent);
        order.push(name);
        return answer;
      };
      const largeDone = noted('large', call(1, large));
      const smallDone = noted('small', call(1, body('p')));
      assert.equal(resultsOf(await smallDone).length, 1);
      assert.equal(resultsOf(await largeDone).length, 5000);
      assert.deepEqual(order, ['small', 'large']);
    } finally {
      await thread.close();
    }
  });

  it('refuses a call past the characters it lets wait, taking the first however large, and drops a call whose caller went away', async () => {
    const small = body('p');
    const thread = new WinThreads(settings, { threads: 1, maxWaitingChars: small.length * 2 });
    try {
      const gone = new AbortController();
      const first = thread.register(call(1, small));
      const abandoned = thread.register({ ...call(1, small), abandoned: gone.signal });
      const second = thread.register(call(1, small));
      // Two wait: a third would take them past the bound.
      await assert.rejects(thread.register(call(1, small)), WinsBusyError);
      gone.abort();
      const firstReply = await first;
      assert.ok(firstReply.ok, `the first call is answered; got ${JSON.stringify(firstReply)}`);
      await assert.rejects(abandoned, WinsAbandonedError);
      const secondReply = await second;
      assert.ok(secondReply.ok, `the call that waited is answered; got ${JSON.stringify(secondReply)}`);
      // Nothing waits: a call larger than the bound is taken.
      const large = JSON.stringify({ wins: Array.from({ length: 5 }, () => JSON.parse(small).wins[0]) });
      assert.ok(large.length > small.length * 2, 'the large call is past the characters that may wait');
      const largeReply = await thread.register(call(1, large));
      assert.ok(largeReply.ok, `a large call is taken when nothing waits; got ${JSON.stringify(largeReply)}`);
    } finally {
      await thread.close();
    }
  });
});
