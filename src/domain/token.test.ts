// node:test's describe/it return promises that the test runner itself awaits.
import * as assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { KeyRing, NoticeClaims } from './token.js';
import { generateKey, openToken, sealToken } from './token.js';
import { arbitraryClaims } from '../../test/support/arbitrary-claims.js';
import { bannerClaims } from '../../test/support/claims.js';

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ring: KeyRing = { signingKeyId: 7, keys: new Map([[7, generateKey()]]) };

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constant(''),
);
const integer = fc.oneof(
  fc.nat(),
  fc.constantFrom(0, 127, 128, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const claimsArb = arbitraryClaims(text, integer);

const bannerWin: NoticeClaims = {
  kind: 'adm',
  auctionId: '3f2b8c1e-9d4a-4e6b-a1c7-5e0f2d8b9a34',
  impId: '1',
  bidId: 'b7e4c2a9-1f3d-4c8e-9a6b-0d5e7f1c2b38',
  seat: 'dsp-seat-4821',
  adId: 'cr-889231',
  bidResponseId: '',
  priceMicros: 1_234_567,
  bidMicros: 1_500_000,
  currency: 'USD',
  format: 'banner',
  channel: 'web',
  method: 'adm',
  ttlSeconds: 600,
  auctionTimeMs: 1_767_225_600_000,
  accountId: 1,
  publisherId: 'pub-10442',
  test: false,
  // A realistic DSP billing URL, padded to exactly 200 characters.
  dspBurl:
    'https://dsp.example.com/bill?auction=${AUCTION_ID}&price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&ctx='.padEnd(
      200,
      'x',
    ),
};

function tokenBytes(token: string): Buffer {
  return Buffer.from(token, 'base64url');
}

/** A token of `plaintext` sealed by hand with the ring's signing key, as another holder of the key could. */
function sealPlaintext(plaintext: Buffer): string {
  const header = Buffer.from([1, ring.signingKeyId, ...randomBytes(12)]);
  const key = ring.keys.get(ring.signingKeyId) ?? Buffer.alloc(32);
  const cipher = createCipheriv('aes-256-gcm', key, header.subarray(2), { authTagLength: 16 });
  cipher.setAAD(header.subarray(0, 2));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

function assertRejected(token: string, keys: KeyRing = ring): void {
  const opened = openToken(token, keys);
  assert.equal(opened.ok, false);
}

describe('sealed notice tokens', () => {
  it('opens every sealed claim set back to the same claims and key id', () => {
    fc.assert(
      fc.property(claimsArb, (claims) => {
        const token = sealToken(claims, ring);
        assert.match(token, /^[A-Za-z0-9_-]+$/);
        assert.deepEqual(openToken(token, ring), { ok: true, claims, keyId: 7 });
      }),
      { numRuns: 300 },
    );
  });

  it('opens tokens of any size, one after the other, the small ones between large ones intact', () => {
    const large = { ...bannerWin, dspBurl: `https://dsp.test/b?${'x'.repeat(9000)}` };
    const tokens = [bannerWin, large, bannerWin, large].map((claims) => sealToken(claims, ring));
    const opened = tokens.map((token) => openToken(token, ring));
    assert.deepEqual(
      opened,
      [bannerWin, large, bannerWin, large].map((claims) => ({ ok: true, claims, keyId: 7 })),
    );
  });

  it('seals the same claims into different tokens (a new IV each)', () => {
    assert.notEqual(sealToken(bannerWin, ring), sealToken(bannerWin, ring));
  });

  it('seals the tokens of a thread with IVs of one sequence: one start, never the same IV twice', () => {
    const ivs = Array.from({ length: 1000 }, () => tokenBytes(sealToken(bannerWin, ring)).subarray(2, 14));
    const starts = new Set(ivs.map((iv) => iv.subarray(0, 4).toString('hex')));
    assert.equal(starts.size, 1, 'the first 32 bits, the start’s, are the same in every IV');
    assert.equal(new Set(ivs.map((iv) => iv.toString('hex'))).size, 1000, 'no IV repeated');
  });

  it('starts the IV sequence of each thread at a random place: two copies of the module seal apart', async () => {
    // A query makes a second instance of the module, as a worker thread or a restart loads one.
    const secondInstance = './token.js?second-instance';
    const other = (await import(secondInstance)) as { sealToken: typeof sealToken };
    const [one, two] = [sealToken(bannerWin, ring), other.sealToken(bannerWin, ring)].map((token) =>
      tokenBytes(token).subarray(2, 6).toString('hex'),
    );
    assert.notEqual(one, two, 'the first 32 bits of the IVs, their starts’, differ');
  });

  it('a typical banner win with a 200-character burl and its bid price seals into at most 488 characters (366 bytes)', () => {
    assert.equal(bannerWin.dspBurl.length, 200);
    const token = sealToken(bannerWin, ring);
    assert.ok(token.length <= 488, `token is ${token.length} characters`);
  });

  it('never verifies a token with any single byte changed', () => {
    fc.assert(
      fc.property(claimsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (claims, at, flip) => {
        const bytes = tokenBytes(sealToken(claims, ring));
        const index = at % bytes.length;
        bytes[index] = (bytes[index] ?? 0) ^ flip;
        assertRejected(bytes.toString('base64url'));
      }),
      { numRuns: 300 },
    );
  });

  it('never verifies a truncated token', () => {
    fc.assert(
      fc.property(claimsArb, fc.nat(), (claims, cut) => {
        const bytes = tokenBytes(sealToken(claims, ring));
        assertRejected(bytes.subarray(0, cut % bytes.length).toString('base64url'));
      }),
      { numRuns: 300 },
    );
  });

  it('never verifies a token with bytes appended', () => {
    fc.assert(
      fc.property(claimsArb, fc.uint8Array({ minLength: 1, maxLength: 40 }), (claims, extra) => {
        const bytes = tokenBytes(sealToken(claims, ring));
        assertRejected(Buffer.concat([bytes, extra]).toString('base64url'));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects the same bytes spelled any other way than canonical base64url', () => {
    let token = sealToken(bannerWin, ring);
    while (!/[-_]/.test(token)) token = sealToken(bannerWin, ring);
    const bytes = tokenBytes(token);
    const malformed = { ok: false, error: 'malformed' };
    assert.deepEqual(openToken(bytes.toString('base64').replace(/=+$/, ''), ring), malformed);
    assert.deepEqual(openToken(`${token}=`, ring), malformed);
    assert.deepEqual(openToken(` ${token}`, ring), malformed);
    assert.deepEqual(openToken(`${token.slice(0, 10)}.${token.slice(10)}`, ring), malformed);
    const sameBytes = [...BASE64URL_ALPHABET]
      .map((last) => token.slice(0, -1) + last)
      .filter((spelling) => spelling !== token && tokenBytes(spelling).equals(bytes));
    assert.equal(sameBytes.length > 0, token.length % 4 !== 0);
    for (const spelling of sameBytes) assert.deepEqual(openToken(spelling, ring), malformed);
  });

  it('never throws on arbitrary strings and never opens them', () => {
    const base64url = fc.string({ unit: fc.constantFrom(...BASE64URL_ALPHABET), maxLength: 600 });
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), base64url), (input) => {
        assertRejected(input);
      }),
      { numRuns: 1000 },
    );
  });

  it('answers unauthentic for random bytes that name a version and a known key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 60, maxLength: 400 }), (random) => {
        const bytes = Buffer.concat([Buffer.from([1, 7]), random]);
        assert.deepEqual(openToken(bytes.toString('base64url'), ring), { ok: false, error: 'unauthentic' });
      }),
    );
  });

  it('still opens a token sealed with the old key after a new signing key is added', () => {
    const oldRing: KeyRing = { signingKeyId: 1, keys: new Map([[1, generateKey()]]) };
    const token = sealToken(bannerWin, oldRing);
    const rotated: KeyRing = { signingKeyId: 2, keys: new Map([...oldRing.keys, [2, generateKey()]]) };
    assert.deepEqual(openToken(token, rotated), { ok: true, claims: bannerWin, keyId: 1 });
    const fresh = sealToken(bannerWin, rotated);
    assert.equal(tokenBytes(fresh)[1], 2);
    assert.deepEqual(openToken(fresh, rotated), { ok: true, claims: bannerWin, keyId: 2 });
  });

  it('answers unknown_key for a token naming a key id the ring lacks', () => {
    const other: KeyRing = { signingKeyId: 200, keys: new Map([[200, generateKey()]]) };
    assert.deepEqual(openToken(sealToken(bannerWin, other), ring), { ok: false, error: 'unknown_key' });
  });

  it('answers unauthentic for a token from a foreign ring with the same key id', () => {
    const foreign: KeyRing = { signingKeyId: 7, keys: new Map([[7, generateKey()]]) };
    assert.deepEqual(openToken(sealToken(bannerWin, foreign), ring), { ok: false, error: 'unauthentic' });
  });

  it('answers malformed for an unknown token version', () => {
    const bytes = tokenBytes(sealToken(bannerWin, ring));
    bytes[0] = 2;
    assert.deepEqual(openToken(bytes.toString('base64url'), ring), { ok: false, error: 'malformed' });
  });

  it('refuses to seal without a valid signing key or with out-of-range integers', () => {
    assert.throws(() => sealToken(bannerWin, { signingKeyId: 3, keys: ring.keys }), RangeError);
    assert.throws(
      () => sealToken(bannerWin, { signingKeyId: 3, keys: new Map([[3, Buffer.alloc(16)]]) }),
      RangeError,
    );
    assert.throws(() => sealToken({ ...bannerWin, priceMicros: -1 }, ring), RangeError);
    assert.throws(() => sealToken({ ...bannerWin, priceMicros: 1.5 }, ring), RangeError);
    assert.throws(() => sealToken({ ...bannerWin, auctionTimeMs: 2 ** 53 + 2 }, ring), RangeError);
    assert.throws(() => sealToken({ ...bannerWin, priceMicros: 2 ** 53 }, ring), RangeError);
    assert.throws(() => sealToken({ ...bannerWin, format: 'popup' as never }, ring), RangeError);
    assert.throws(
      () => sealToken(bannerWin, { signingKeyId: 256, keys: new Map([[256, generateKey()]]) }),
      RangeError,
    );
  });

  it('answers malformed for an authentic token whose integer is past the safe integers (2^53)', () => {
    // Sealed by hand, as another holder of the key could: a banner adm notice priced at 2^53 micros.
    const twoTo53 = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
    const plaintext = Buffer.from([0, 0, 0, ...twoTo53, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(openToken(sealPlaintext(plaintext), ring), { ok: false, error: 'malformed' });
    // The same bytes one below 2^53 (the eighth byte 15 and the others full) open.
    plaintext.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], 3);
    const opened = openToken(sealPlaintext(plaintext), ring);
    assert.equal(opened.ok && opened.claims.priceMicros, Number.MAX_SAFE_INTEGER);
  });

  it('answers malformed for an authentic token that flags a bid price of 0, and opens it with one of 5', () => {
    // Flags byte 2: a bid price follows the strings; a price of 0 is spelled by leaving the flag off.
    const plaintext = Buffer.from([0, 0, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(openToken(sealPlaintext(plaintext), ring), { ok: false, error: 'malformed' });
    plaintext[plaintext.length - 1] = 5;
    const opened = openToken(sealPlaintext(plaintext), ring);
    assert.equal(opened.ok && opened.claims.bidMicros, 5);
    assert.equal(opened.ok && opened.claims.test, false);
  });

  it('answers malformed for an authentic token that flags an empty BidResponse id, and opens it with one', () => {
    // Flags byte 4: a BidResponse id follows the strings; an empty one is spelled by leaving the flag off.
    const plaintext = Buffer.from([0, 0, 4, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(openToken(sealPlaintext(plaintext), ring), { ok: false, error: 'malformed' });
    const withId = Buffer.concat([plaintext.subarray(0, -1), Buffer.from([2, 0x72, 0x39])]);
    const opened = openToken(sealPlaintext(withId), ring);
    assert.equal(opened.ok && opened.claims.bidResponseId, 'r9');
    assert.equal(opened.ok && opened.claims.bidMicros, 0);
  });

  it('answers malformed for an authentic token whose integer is not spelled in the fewest bytes', () => {
    // A price of 1 spelled in two bytes (0x81 0x00) instead of one: one sealed win has one spelling.
    const minimal = Buffer.from([0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(openToken(sealPlaintext(minimal), ring).ok, true);
    const padded = Buffer.from([0, 0, 0, 0x81, 0x00, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(openToken(sealPlaintext(padded), ring), { ok: false, error: 'malformed' });
  });

  it('answers malformed for an authentic token with a flag it does not know', () => {
    const plaintext = Buffer.from([0, 0, 8, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(openToken(sealPlaintext(plaintext), ring), { ok: false, error: 'malformed' });
  });

  it('answers malformed for an authentic token with bytes left over after its last field', () => {
    const plaintext = Buffer.from([0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(openToken(sealPlaintext(plaintext), ring), { ok: false, error: 'malformed' });
  });

  it('answers malformed for a token with one character more than its bytes need, which Node would ignore', () => {
    let claims = bannerWin;
    let token = sealToken(claims, ring);
    while (token.length % 4 !== 0) {
      claims = { ...claims, adId: `${claims.adId}x` };
      token = sealToken(claims, ring);
    }
    assert.deepEqual(openToken(token, ring), { ok: true, claims, keyId: 7 });
    assert.deepEqual(openToken(`${token}A`, ring), { ok: false, error: 'malformed' });
  });

  it('answers malformed for a token too short to hold a header, the fewest claims and a tag', () => {
    // 2 + 12 + 15 + 16 = 45 bytes at least; shorter tokens naming version 1 and a known key id.
    for (let length = 2; length < 45; length++) {
      const bytes = Buffer.concat([Buffer.from([1, 7]), randomBytes(length - 2)]);
      assert.deepEqual(
        openToken(bytes.toString('base64url'), ring),
        { ok: false, error: 'malformed' },
        `${length}`,
      );
    }
  });

  it('answers unknown_key, without throwing, for a key id whose entry in the ring is not a 32-byte key', () => {
    const key = generateKey();
    const token = sealToken(bannerWin, { signingKeyId: 3, keys: new Map([[3, key]]) });
    const short: KeyRing = { signingKeyId: 3, keys: new Map([[3, key.subarray(0, 16)]]) };
    assert.deepEqual(openToken(token, short), { ok: false, error: 'unknown_key' });
  });

  it('answers malformed for a token of any length with base64 padding appended', () => {
    const lengths = new Set<number>();
    for (let extra = 0; lengths.size < 3 && extra < 12; extra++) {
      const claims = { ...bannerWin, adId: `${bannerWin.adId}${'x'.repeat(extra)}` };
      const token = sealToken(claims, ring);
      lengths.add(token.length % 4);
      assert.deepEqual(openToken(token, ring), { ok: true, claims, keyId: 7 });
      for (const padded of [`${token}=`, `${token}==`]) {
        assert.deepEqual(openToken(padded, ring), { ok: false, error: 'malformed' }, padded);
      }
    }
    assert.equal(lengths.size, 3);
  });

  it('answers malformed for an authentic token with an integer spelled in more than eight bytes', () => {
    // A price of 2^56: eight bytes of continuation, then a ninth.
    const nineBytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    const plaintext = Buffer.from([0, 0, 0, ...nineBytes, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(openToken(sealPlaintext(plaintext), ring), { ok: false, error: 'malformed' });
  });

  it('answers malformed for an authentic token naming a method, kind, format or channel past the lists', () => {
    const bytes: [number, number][] = [
      [0x80, 0x00],
      [0x0f, 0x00],
      [0x00, 0x0f],
      [0x00, 0xf0],
    ];
    for (const [kinds, media] of bytes) {
      const plaintext = Buffer.from([kinds, media, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(
        openToken(sealPlaintext(plaintext), ring),
        { ok: false, error: 'malformed' },
        `${kinds} ${media}`,
      );
    }
  });

  it('still opens a token sealed before the bid price and BidResponse id were carried, without them', () => {
    // Sealed by the code of commit e44d2a2, before either was carried, with key id 3 (32 bytes of 7).
    const before =
      'AQMxPVer9Ihux6xiDao34OCj2Bq3jWRxYU0F4Bw5fy8D8jUjXWXmJl-qMMmgTeRSVhtnqTD7aDCYgAcVCtLoHnTClQbEeVzslH48Yj6gC1RqKht8CR1j4iM1EL818y5AUN84ciQxF3FaxMhUlNkr2aN6Rglz5ZBNINkziTNxWPzYSgJGxgIcPsNhjZTx3pi-';
    const opened = openToken(before, { signingKeyId: 3, keys: new Map([[3, Buffer.alloc(32, 7)]]) });
    const sealedThen = bannerClaims({
      kind: 'burl',
      channel: 'app',
      method: 'burl',
      ttlSeconds: 10_800,
      auctionTimeMs: 1_764_720_000_000,
      dspBurl: 'https://dsp.example/bill?p=${AUCTION_PRICE}&mbr=${AUCTION_MBR}',
    });
    assert.equal(sealedThen.bidMicros, 0);
    assert.deepEqual(opened.ok && opened.claims, sealedThen);
  });
});
