import { randomBytes } from 'node:crypto';

/** Bytes in an AES-GCM IV (96 bits, the size GCM uses without hashing it). */
export const IV_BYTES = 12;

/**
 * The IVs one thread seals notice tokens with: a random 96-bit start XORed with a count of the
 * IVs drawn (TLS 1.3's nonce construction). A random IV per token would make two tokens of one
 * key likely to share one after about 2^48 of them, and NIST bounds a key to 2^32 such tokens
 * (SP 800-38D §8.3), a few days of a large exchange's wins. Counted IVs never repeat within a
 * sequence, and two sequences' (two starts of Tally, two win threads) only if their ranges
 * overlap: for a thousand sequences each drawing 10^12 IVs, a chance of about 10^-11.
 */
export class IvSequence {
  private readonly iv = Buffer.alloc(IV_BYTES);

  /**
   * `start` is the first IV (random by default); `drawn` how many IVs the sequence has already
   * given (at most 2^53: far beyond any process's life).
   */
  constructor(
    private readonly start: Buffer = randomBytes(IV_BYTES),
    private drawn = 0,
  ) {}

  /** The next IV: the start XORed with the count, in a buffer the next call overwrites. */
  next(): Buffer {
    const { iv, drawn } = this;
    this.start.copy(iv);
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ Math.floor(drawn / 2 ** 32)) >>> 0, 4);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ drawn) >>> 0, 8);
    this.drawn = drawn + 1;
    return iv;
  }
}
