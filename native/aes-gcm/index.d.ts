/**
 * An AES-256-GCM key set up once (key schedule and OpenSSL context), so that each open costs
 * only the decryption: Node's `createDecipheriv` sets up a new context for every call (about
 * ten times the cost of the decryption of a notice token).
 */
export class GcmKey {
  /** `key`: 32 bytes. Throws a TypeError otherwise. */
  constructor(key: Uint8Array);
  /**
   * Opens `sealed`, laid out as AAD `[0, aadEnd)`, a 12-byte IV, the ciphertext and a 16-byte
   * tag, decrypting into `out`. Answers the plaintext's length, or -1 when the tag does not
   * verify (what `out` then holds is undefined). Throws a TypeError when `sealed` is too short
   * for that layout or `out` for the plaintext.
   */
  open(sealed: Uint8Array, aadEnd: number, out: Uint8Array): number;
}
