// node:test's describe/it return promises that the test runner itself awaits.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { PriceKeys } from './price-crypto.js';
import { decryptPrice } from '../../test/support/price-decrypt.js';
import { encryptPrice, impressionIv, parsePriceKeys, priceKeyName, priceKeyOwner } from './price-crypto.js';

/*
 * Published test vectors.
 *
 * 1. Google Authorized Buyers (formerly Ad Exchange) RTB guide, "Decrypt price confirmations",
 *    https://developers.google.com/authorized-buyers/rtb/response-guide/decrypt-price (sample
 *    keys and encrypted prices 100, 1900 and 2700 micros; their IV is the ASCII text
 *    'abc123def456ghi7'). The same values are quoted as Google's examples by independent ports,
 *    e.g. github.com/mechiru/ab (crypto/price tests) and github.com/matipan/doubleclick (README).
 * 2. Google's Java library github.com/google/openrtb-doubleclick,
 *    doubleclick-core/src/test/java/com/google/doubleclick/crypto/DoubleClickCryptoTest.java
 *    (KEYS, PLAIN_PRICE, NONCE, CIPHER_PRICE); its keys are standard (not web-safe) base64.
 */
const GUIDE_KEYS = parsePriceKeys(
  'skU7Ax_NL5pPAFyKdkfZjZz2-VhIN8bjj1rVFOaJ_5o=',
  'arO23ykdNqUQ5LEoQ0FVmPkBd7xB5CO89PDZlSjpFxo=',
);
const LIBRARY_KEYS = parsePriceKeys(
  'sIxwz7yw62yrfoLGt12lIHKuYrK/S5kLuApI2BQe7Ac=',
  'v3fsVcMBMMHYzRhi7SpM0sdqwzvAxM6KPTu9OtVod5I=',
);
const GUIDE_IV = Buffer.from('abc123def456ghi7', 'latin1');
const LIBRARY_IV = Buffer.from('E679B0BE000CD1400123456789ABCDEF', 'hex');

interface Vector {
  source: string;
  keys: PriceKeys | undefined;
  iv: Buffer;
  encrypted: string;
  priceMicros: number;
}

const VECTORS: readonly Vector[] = [
  {
    source: 'guide',
    keys: GUIDE_KEYS,
    iv: GUIDE_IV,
    encrypted: 'YWJjMTIzZGVmNDU2Z2hpN7fhCuPemCce_6msaw',
    priceMicros: 100,
  },
  {
    source: 'guide',
    keys: GUIDE_KEYS,
    iv: GUIDE_IV,
    encrypted: 'YWJjMTIzZGVmNDU2Z2hpN7fhCuPemCAWJRxOgA',
    priceMicros: 1900,
  },
  {
    source: 'guide',
    keys: GUIDE_KEYS,
    iv: GUIDE_IV,
    encrypted: 'YWJjMTIzZGVmNDU2Z2hpN7fhCuPemC32prpWWw',
    priceMicros: 2700,
  },
  {
    source: 'openrtb-doubleclick',
    keys: LIBRARY_KEYS,
    iv: LIBRARY_IV,
    encrypted: '5nmwvgAM0UABI0VniavN72_sy3TQFLWhVys-IA',
    priceMicros: 0x2a512000,
  },
];

function keysOf(vector: Vector): PriceKeys {
  assert.ok(vector.keys, 'the published keys parse');
  return vector.keys;
}

const randomKeys: PriceKeys = { encryptionKey: Buffer.alloc(32, 1), integrityKey: Buffer.alloc(32, 2) };

describe('Google price encryption', () => {
  for (const vector of VECTORS) {
    it(`has the test DSP's decoder decrypt the published ${vector.source} vector ${vector.encrypted} to ${vector.priceMicros} micros`, () => {
      assert.deepEqual(decryptPrice(vector.encrypted, keysOf(vector)), {
        ok: true,
        priceMicros: vector.priceMicros,
      });
    });

    it(`re-encrypts ${vector.priceMicros} micros with the ${vector.source} vector's IV to exactly ${vector.encrypted}`, () => {
      assert.equal(encryptPrice(vector.priceMicros, keysOf(vector), vector.iv), vector.encrypted);
    });
  }

  it('round-trips any safe price with a random IV into 38 web-safe characters', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.constant(Number.MAX_SAFE_INTEGER),
        ),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        (priceMicros, encryptionKey, integrityKey) => {
          const keys = { encryptionKey: Buffer.from(encryptionKey), integrityKey: Buffer.from(integrityKey) };
          const encrypted = encryptPrice(priceMicros, keys);
          assert.match(encrypted, /^[A-Za-z0-9_-]{38}$/);
          assert.deepEqual(decryptPrice(encrypted, keys), { ok: true, priceMicros });
        },
      ),
    );
  });

  it('uses a fresh random IV for every encryption', () => {
    assert.notEqual(encryptPrice(1900, randomKeys), encryptPrice(1900, randomKeys));
  });

  it('refuses to encrypt negative, fractional or unsafe prices, or an IV that is not 16 bytes', () => {
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 53])
      assert.throws(() => encryptPrice(bad, randomKeys), RangeError);
    assert.throws(() => encryptPrice(1, randomKeys, Buffer.alloc(8)), RangeError);
  });
});

describe('parsePriceKeys', () => {
  it('reads web-safe and standard base64, padded or not, to the same bytes', () => {
    const webSafe = parsePriceKeys(
      'sIxwz7yw62yrfoLGt12lIHKuYrK_S5kLuApI2BQe7Ac',
      'v3fsVcMBMMHYzRhi7SpM0sdqwzvAxM6KPTu9OtVod5I',
    );
    assert.deepEqual(webSafe, LIBRARY_KEYS);
    assert.equal(LIBRARY_KEYS?.encryptionKey.length, 32);
    assert.equal(GUIDE_KEYS?.integrityKey.length, 32);
  });

  it('reads a standard base64 key holding + and / as its web-safe spelling', () => {
    const standard = parsePriceKeys('+/8A+/8A', 'ab+c');
    assert.deepEqual(standard, parsePriceKeys('-_8A-_8A', 'ab-c'));
    assert.deepEqual(standard?.encryptionKey, Buffer.from([0xfb, 0xff, 0x00, 0xfb, 0xff, 0x00]));
  });

  it('reads a key whose standard base64 ends in two padding characters', () => {
    const bytes = Buffer.from('0123456789abcdef', 'latin1');
    const padded = bytes.toString('base64');
    assert.ok(padded.endsWith('=='), padded);
    assert.deepEqual(parsePriceKeys(padded, padded), { encryptionKey: bytes, integrityKey: bytes });
  });

  it('answers undefined for empty or non-base64 keys', () => {
    const good = 'skU7Ax_NL5pPAFyKdkfZjZz2-VhIN8bjj1rVFOaJ_5o=';
    for (const bad of ['', '=', 'a', 'abd', 'not base64!', `${good} `, `${good}==`]) {
      assert.equal(parsePriceKeys(bad, good), undefined, bad);
      assert.equal(parsePriceKeys(good, bad), undefined, bad);
    }
  });
});

describe('the IV of an impression’s encrypted price', () => {
  it('is the same for the same impression, price and time, another for another impression or price, and carries the time as Google’s scheme writes it', () => {
    const atMs = 1_796_416_913_582;
    const iv = impressionIv(randomKeys, '["a1","1","b","s"]', 1_250_000, atMs);
    assert.equal(iv.length, 16);
    assert.deepEqual(impressionIv(randomKeys, '["a1","1","b","s"]', 1_250_000, atMs), iv);
    assert.notDeepEqual(impressionIv(randomKeys, '["a2","1","b","s"]', 1_250_000, atMs), iv);
    assert.notDeepEqual(impressionIv(randomKeys, '["a1","1","b","s"]', 1_250_000, atMs + 1), iv);
    // The same impression registered again with another price: one pad over two prices would
    // give away their XOR.
    assert.notDeepEqual(impressionIv(randomKeys, '["a1","1","b","s"]', 1_250_001, atMs), iv);
    assert.equal(iv.readUInt32BE(0), Math.floor(atMs / 1000));
    assert.equal(iv.readUInt32BE(4), 582_000);
    // Without the integrity key the rest cannot be foretold.
    const otherKeys = { ...randomKeys, integrityKey: Buffer.alloc(32, 9) };
    assert.notDeepEqual(
      impressionIv(otherKeys, '["a1","1","b","s"]', 1_250_000, atMs).subarray(8),
      iv.subarray(8),
    );
    assert.deepEqual(decryptPrice(encryptPrice(1_250_000, randomKeys, iv), randomKeys), {
      ok: true,
      priceMicros: 1_250_000,
    });
  });

  it('ends in all 8 first bytes of HMAC-SHA256 under the integrity key of the price (8 bytes) and the impression', () => {
    const price = Buffer.alloc(8);
    price.writeBigUInt64BE(1_250_000n);
    const keyed = createHmac('sha256', randomKeys.integrityKey)
      .update(price)
      .update('["a1","1","b","s"]')
      .digest()
      .subarray(0, 8);
    const iv = impressionIv(randomKeys, '["a1","1","b","s"]', 1_250_000, 1_796_416_913_582);
    assert.deepEqual(iv.subarray(8), keyed);
  });
});

describe('price key names', () => {
  it('give back the account and seat they were made of, a seat holding colons too', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.string(), (accountId, seat) => {
        assert.deepEqual(priceKeyOwner(priceKeyName(accountId, seat)), { accountId, seat });
      }),
    );
    assert.deepEqual(priceKeyOwner(priceKeyName(7, 'dsp:eu:1')), { accountId: 7, seat: 'dsp:eu:1' });
  });
});
