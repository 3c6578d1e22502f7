import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GcmKey } from 'tally-aes-gcm';

/** AES-256-GCM as Node's crypto does it: aad | iv | ciphertext | tag. */
function seal(key: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  return Buffer.concat([aad, iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** What Node's crypto opens `sealed` to, or undefined when its tag does not verify. */
function nodeOpen(key: Buffer, sealed: Buffer, aadEnd: number): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(aadEnd, aadEnd + 12));
  decipher.setAAD(sealed.subarray(0, aadEnd));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const plaintext = decipher.update(sealed.subarray(aadEnd + 12, sealed.length - 16));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}

describe('GcmKey (the AES-256-GCM addon)', () => {
  it('opens what Node seals and refuses what Node refuses, for any key, AAD, plaintext and flipped bit', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.uint8Array({ maxLength: 3000 }),
        fc.option(fc.nat()),
        (keyBytes, aadBytes, plaintextBytes, flip) => {
          const key = Buffer.from(keyBytes);
          const sealed = seal(key, Buffer.from(aadBytes), Buffer.from(plaintextBytes));
          if (flip !== null) {
            const bit = flip % (sealed.length * 8);
            sealed[bit >> 3] = (sealed[bit >> 3] ?? 0) ^ (1 << (bit & 7));
          }
          const out = Buffer.alloc(sealed.length);
          const length = new GcmKey(key).open(sealed, aadBytes.length, out);
          const expected = nodeOpen(key, sealed, aadBytes.length);
          if (expected === undefined) assert.equal(length, -1);
          else assert.deepEqual(out.subarray(0, length), expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reuses one key for many opens, refused ones in between', () => {
    const key = randomBytes(32);
    const gcm = new GcmKey(key);
    const out = Buffer.alloc(64);
    for (let index = 0; index < 50; index++) {
      const plaintext = Buffer.from(`message ${index}`);
      const sealed = seal(key, Buffer.from([1, 2]), plaintext);
      assert.deepEqual(out.subarray(0, gcm.open(sealed, 2, out)), plaintext);
      sealed[5] = (sealed[5] ?? 0) ^ 1;
      assert.equal(gcm.open(sealed, 2, out), -1);
    }
  });

  it('throws a TypeError on a key that is not 32 bytes, a sealed text too short, or an output too small', () => {
    assert.throws(() => new GcmKey(Buffer.alloc(16)), TypeError);
    const gcm = new GcmKey(Buffer.alloc(32));
    assert.throws(() => gcm.open(Buffer.alloc(27), 0, Buffer.alloc(64)), TypeError);
    const sealed = seal(Buffer.alloc(32), Buffer.alloc(0), Buffer.alloc(100));
    assert.throws(() => gcm.open(sealed, 0, Buffer.alloc(99)), TypeError);
  });
});
