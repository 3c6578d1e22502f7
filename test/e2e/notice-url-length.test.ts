import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MAX_NOTICE_URL_CHARS } from '../../src/domain/win.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

let tally: TestServer;
let auctionSeq = 0;

/** A web banner win whose DSP burl is `burlChars` characters long (Tally seals it into its notice URLs). */
function winWithBurl(burlChars: number): object {
  auctionSeq++;
  const burl = 'https://dsp.example/bill?d=';
  return {
    request: {
      id: `review-${auctionSeq}`,
      imp: [{ id: '1', banner: {} }],
      site: { publisher: { id: 'p' } },
    },
    seat: 'seat-1',
    bid: {
      id: 'b',
      impid: '1',
      price: 1,
      adm: '<p>ad</p>',
      burl: burl + 'x'.repeat(burlChars - burl.length),
    },
  };
}

async function registerWins(...wins: object[]): Promise<any[]> {
  const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.results;
}

/** The outcomes the ledger recorded for an auction's notices. */
function recorded(auctionId: string): string[] {
  const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT outcome FROM events WHERE auction_id = ? ORDER BY id').all(auctionId);
    return (rows as { outcome: string }[]).map((row) => row.outcome);
  } finally {
    db.close();
  }
}

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

describe('registering wins, reviewed end to end', () => {
  it('refuses a win whose notice URL would be too long to be read, and counts the longest it hands out fired with a browser’s headers', async () => {
    const [tooLong, longest] = await registerWins(winWithBurl(20_000), winWithBurl(5_950));
    assert.equal(tooLong.ok, false, JSON.stringify(tooLong).slice(0, 300));
    assert.equal(tooLong.error.code, 'NOTICE_URL_TOO_LONG');
    assert.equal(longest.ok, true, JSON.stringify(longest).slice(0, 300));
    const url: string = longest.noticeUrls.adm;
    assert.ok(url.length > MAX_NOTICE_URL_CHARS - 200 && url.length <= MAX_NOTICE_URL_CHARS, `${url.length}`);
    const response = await fetch(url, {
      headers: {
        'user-agent': CHROME,
        accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8',
        'accept-language': 'en-GB,en-US;q=0.9,en;q=0.8,fr;q=0.7',
        referer: `https://news.example/articles/${'a'.repeat(2_000)}?utm_source=${'b'.repeat(500)}`,
        'sec-ch-ua': '"Chromium";v="120", "Google Chrome";v="120", "Not?A_Brand";v="99"',
        'sec-ch-ua-mobile': '?0',
        'sec-ch-ua-platform': '"Linux"',
        'sec-fetch-dest': 'image',
        'sec-fetch-mode': 'no-cors',
        'sec-fetch-site': 'cross-site',
      },
    });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    assert.deepEqual(recorded(`review-${auctionSeq}`), ['counted']);
  });
});
