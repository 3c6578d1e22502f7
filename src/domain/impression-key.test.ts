import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { impressionKey } from './impression-key.js';
import { bannerClaims } from '../../test/support/claims.js';

describe('impressionKey', () => {
  it('spells the key of plain ids as before escaping existed, so claims made before an upgrade still match', () => {
    const claims = bannerClaims({ accountId: 7, auctionId: 'a-1', impId: '2', bidId: 'b/3', seat: 'seat 4' });
    assert.equal(impressionKey(claims), 'x\u001f7\u001fa-1\u001f2\u001fb/3\u001fseat 4');
  });

  it('gives two impressions whose ids differ only in where a U+001F falls different keys', () => {
    const first = impressionKey(bannerClaims({ auctionId: 'a\u001fb', impId: 'c' }));
    const second = impressionKey(bannerClaims({ auctionId: 'a', impId: 'b\u001fc' }));
    assert.notEqual(first, second);
    assert.equal(first, 'x\u001f1\u001fa\\sb\u001fc\u001fbid-1\u001fseat-1');
  });

  it('writes keys that read back to the account, auction, imp, bid and seat they were made of, whatever the ids hold', () => {
    // Ids over an alphabet of the separator, the escape character and what follows it.
    const id = fc.string({ unit: fc.constantFrom('\u001f', '\\', 's', 'a'), maxLength: 6 });
    const impression = fc.record({
      accountId: fc.integer({ min: 1, max: 99 }),
      auctionId: id,
      impId: id,
      bidId: id,
      seat: id,
    });
    fc.assert(
      fc.property(impression, (ids) => {
        assert.deepEqual(readKey(impressionKey(bannerClaims(ids))), { ...ids });
      }),
      { numRuns: 5000 },
    );
  });
});

/** Reads a key back into its parts (the inverse of `impressionKey`: no two impressions share a key). */
function readKey(key: string): Record<string, string | number> {
  const [prefix, accountId, auctionId, impId, bidId, seat, ...rest] = key.split('\u001f');
  assert.equal(prefix, 'x');
  assert.equal(rest.length, 0);
  const unescape = (part = '') =>
    part.replace(/\\(.)/g, (_, next: string) => (next === 's' ? '\u001f' : next));
  return {
    accountId: Number(accountId),
    auctionId: unescape(auctionId),
    impId: unescape(impId),
    bidId: unescape(bidId),
    seat: unescape(seat),
  };
}
