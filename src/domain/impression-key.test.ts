import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { auctionKeyEnd, auctionKeyStart, impressionKey, readImpressionKey } from './impression-key.js';
import { bannerClaims } from '../../test/support/claims.js';

describe('impressionKey', () => {
  it('spells the key of plain ids as before escaping existed, so claims made before an upgrade still match', () => {
    const claims = bannerClaims({ accountId: 7, auctionId: 'a-1', impId: '2', bidId: 'b/3', seat: 'seat 4' });
    assert.equal(impressionKey(claims), 'x\u001f7\u001fa-1\u001f2\u001fb/3\u001fseat 4');
  });

  it('gives impressions that differ in only one of account, auction, imp, bid or seat keys of their own, and the same ids one key', () => {
    const ids = { accountId: 1, auctionId: 'a', impId: 'i', bidId: 'b', seat: 's' };
    const variants = [
      ids,
      { ...ids, accountId: 2 },
      { ...ids, auctionId: 'a2' },
      { ...ids, impId: 'i2' },
      { ...ids, bidId: 'b2' },
      { ...ids, seat: 's2' },
    ];
    const keys = variants.map((variant) => impressionKey(bannerClaims(variant)));
    assert.equal(new Set(keys).size, variants.length, `keys: ${JSON.stringify(keys)}`);
    assert.equal(impressionKey(bannerClaims({ ...ids })), keys[0]);
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
        assert.deepEqual(readImpressionKey(impressionKey(bannerClaims(ids))), { ...ids });
      }),
      { numRuns: 5000 },
    );
  });

  it('reads no ids from a key of another shape, a tracker hit’s', () => {
    assert.equal(readImpressionKey('t\u001f1\u001f42\u001f10.0.0.1'), undefined);
  });

  it('bounds the keys of one auction’s impressions, and of no other auction, between its start and end', () => {
    const id = fc.string({
      unit: fc.constantFrom('\u001f', '\\', ' ', 's', 'a', '\u00e9', '\u{1F600}'),
      maxLength: 5,
    });
    fc.assert(
      fc.property(id, id, id, (auctionId, otherAuctionId, impId) => {
        const key = impressionKey(bannerClaims({ accountId: 3, auctionId, impId }));
        const start = Buffer.from(auctionKeyStart(3, auctionId));
        const end = Buffer.from(auctionKeyEnd(3, auctionId));
        const bytes = Buffer.from(key);
        assert.ok(Buffer.compare(start, bytes) <= 0 && Buffer.compare(bytes, end) < 0, 'its own');
        const other = Buffer.from(
          impressionKey(bannerClaims({ accountId: 3, auctionId: otherAuctionId, impId })),
        );
        const inside = Buffer.compare(start, other) <= 0 && Buffer.compare(other, end) < 0;
        assert.equal(inside, otherAuctionId === auctionId, 'another auction’s');
      }),
      { numRuns: 3000 },
    );
  });
});
