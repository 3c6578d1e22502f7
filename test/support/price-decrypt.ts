import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PriceKeys } from '../../src/domain/price-crypto.js';

/**
 * Decrypts a price encrypted with Google's price scheme, as the DSP receiving Tally's burl does:
 * the 38 characters of unpadded web-safe base64 are iv (16 bytes) ‖ ciphertext (8) ‖ signature
 * (4); price = ciphertext XOR HMAC-SHA1(e_key, iv)[0..8], authentic when HMAC-SHA1(i_key,
 * price ‖ iv)[0..4] is the signature. Tally only encrypts prices; tests decrypt them with this to
 * prove that a DSP reads the price Tally meant. Anything but 38 characters of canonical base64,
 * or a price past `Number.MAX_SAFE_INTEGER` micros, is `malformed`; a wrong signature is
 * `unauthentic`.
 */
export function decryptPrice(
  token: string,
  keys: PriceKeys,
): { ok: true; priceMicros: number } | { ok: false; error: 'malformed' | 'unauthentic' } {
  const payload = Buffer.from(token, 'base64url');
  if (token.length !== 38 || payload.length !== 28 || payload.toString('base64url') !== token) {
    return { ok: false, error: 'malformed' };
  }
  const iv = payload.subarray(0, 16);
  const pad = createHmac('sha1', keys.encryptionKey).update(iv).digest();
  const price = Buffer.alloc(8);
  for (let index = 0; index < 8; index++) price[index] = (payload[16 + index] ?? 0) ^ (pad[index] ?? 0);
  const signature = createHmac('sha1', keys.integrityKey).update(price).update(iv).digest().subarray(0, 4);
  if (!timingSafeEqual(signature, payload.subarray(24))) return { ok: false, error: 'unauthentic' };
  const priceMicros = price.readBigUInt64BE();
  if (priceMicros > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, error: 'malformed' };
  return { ok: true, priceMicros: Number(priceMicros) };
}
