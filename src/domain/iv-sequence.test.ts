import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IV_BYTES, IvSequence } from './iv-sequence.js';

const START = Buffer.from('0123456789abcdef01234567', 'hex');

/** The IV XORed with {@link START}: what the sequence added to its start. */
function countIn(iv: Buffer): bigint {
  const difference = Buffer.from(iv.map((byte, at) => byte ^ (START[at] ?? 0)));
  assert.equal(difference.readUInt32BE(0), 0, 'the first 32 bits are the start’s');
  return difference.readBigUInt64BE(4);
}

describe('IvSequence', () => {
  it('gives its start first, then the start XORed with 1, 2, 3…', () => {
    const ivs = new IvSequence(START);
    const counts = Array.from({ length: 5 }, () => countIn(ivs.next()));
    assert.deepEqual(counts, [0n, 1n, 2n, 3n, 4n]);
  });

  it('carries the count past 2^32 into the higher 32 bits, and up to 2^53', () => {
    const aroundWord = new IvSequence(START, 2 ** 32 - 1);
    assert.equal(countIn(aroundWord.next()), 2n ** 32n - 1n);
    assert.equal(countIn(aroundWord.next()), 2n ** 32n);
    assert.equal(countIn(aroundWord.next()), 2n ** 32n + 1n);
    const last = new IvSequence(START, 2 ** 53 - 1);
    assert.equal(countIn(last.next()), 2n ** 53n - 1n);
  });

  it('draws a random 12-byte start for each sequence', () => {
    const [one, other] = [new IvSequence().next(), new IvSequence().next()];
    assert.equal(one.length, IV_BYTES);
    assert.notDeepEqual(one, other, 'two sequences start apart');
  });
});
