import { createHmac, randomBytes } from 'node:crypto';
import { decodeBase64 } from '../lib/strict-base64.js';

/**
 * The two secrets of the Google (DoubleClick Ad Exchange) price encryption scheme: the
 * encryption key (`e_key`) and the integrity key (`i_key`), raw bytes.
 */
export interface PriceKeys {
  encryptionKey: Buffer;
  integrityKey: Buffer;
}

/** The length of each key as Google issues them (the scheme's HMACs would take any length). */
export const PRICE_KEY_BYTES = 32;
const IV_BYTES = 16;
const PRICE_BYTES = 8;
const SIGNATURE_BYTES = 4;

/**
 * Encrypts integer micros with the Google price scheme, as `${AUCTION_PRICE}` is expanded for
 * encrypted price macros: pad = HMAC-SHA1(e_key, iv)[0..8], ciphertext = pad XOR price (8-byte
 * big-endian micros), signature = HMAC-SHA1(i_key, price ‖ iv)[0..4], transported as unpadded
 * web-safe base64 of iv ‖ ciphertext ‖ signature (38 characters). `ivBytes` defaults to 16
 * random bytes (Google uses an 8-byte timestamp and 8 more bytes; either is fine). Throws a
 * `RangeError` unless `priceMicros` is a non-negative safe integer and the IV is 16 bytes.
 */
export function encryptPrice(
  priceMicros: number,
  keys: PriceKeys,
  ivBytes: Buffer = randomBytes(IV_BYTES),
): string {
  if (!Number.isSafeInteger(priceMicros) || priceMicros < 0) {
    throw new RangeError(`${priceMicros} is not a non-negative safe integer`);
  }
  if (ivBytes.length !== IV_BYTES) throw new RangeError(`the IV must be ${IV_BYTES} bytes`);
  const price = Buffer.alloc(PRICE_BYTES);
  price.writeBigUInt64BE(BigInt(priceMicros));
  const payload = Buffer.concat([ivBytes, xorPad(price, keys, ivBytes), signature(price, keys, ivBytes)]);
  return payload.toString('base64url');
}

/**
 * The IV of one impression's encrypted price, the same each time it is made, so that a DSP's burl
 * filled again (a publisher repeating Tally's burl) is the same URL: the impression's time as
 * Google's scheme writes it (4 bytes of seconds, 4 of microseconds, big-endian), then 8 bytes of
 * HMAC-SHA256 under the integrity key of the price and the impression's identity, so that no two
 * impressions share an IV, none can be foretold without the key, and the same impression
 * registered again at the same time with another price (which would XOR two prices under one pad,
 * showing their difference) gets another.
 */
export function impressionIv(keys: PriceKeys, impression: string, priceMicros: number, atMs: number): Buffer {
  const iv = Buffer.alloc(IV_BYTES);
  iv.writeUInt32BE(Math.floor(atMs / 1000) >>> 0, 0);
  iv.writeUInt32BE((atMs % 1000) * 1000, 4);
  // The price first, in its fixed 8 bytes, so that no price and identity read as another pair.
  const price = Buffer.alloc(PRICE_BYTES);
  price.writeBigUInt64BE(BigInt(priceMicros));
  createHmac('sha256', keys.integrityKey).update(price).update(impression).digest().copy(iv, 8, 0, 8);
  return iv;
}

/**
 * The name an account's price keys for a seat are kept under: a DSP's keys fill the price macros
 * of the one account that deals with it, never another account's wins.
 */
export function priceKeyName(accountId: number, seat: string): string {
  return `${accountId}:${seat}`;
}

/** The account and seat of a {@link priceKeyName} (the seat may hold `:` itself). */
export function priceKeyOwner(name: string): { accountId: number; seat: string } {
  const colon = name.indexOf(':');
  return { accountId: Number(name.slice(0, colon)), seat: name.slice(colon + 1) };
}

/**
 * Reads the two keys as an exchange hands them out, in web-safe or standard base64, padded or
 * not. `undefined` when either is empty or not base64.
 */
export function parsePriceKeys(
  encryptionKeyBase64: string,
  integrityKeyBase64: string,
): PriceKeys | undefined {
  const encryptionKey = decodePriceKey(encryptionKeyBase64);
  const integrityKey = decodePriceKey(integrityKeyBase64);
  return encryptionKey === undefined || integrityKey === undefined
    ? undefined
    : { encryptionKey, integrityKey };
}

/** `bytes` XOR the first 8 bytes of HMAC-SHA1(e_key, iv): the price's ciphertext. */
function xorPad(bytes: Buffer, keys: PriceKeys, iv: Buffer): Buffer {
  const pad = createHmac('sha1', keys.encryptionKey).update(iv).digest();
  const out = Buffer.alloc(PRICE_BYTES);
  for (let index = 0; index < PRICE_BYTES; index++) out[index] = (bytes[index] ?? 0) ^ (pad[index] ?? 0);
  return out;
}

function signature(price: Buffer, keys: PriceKeys, iv: Buffer): Buffer {
  return createHmac('sha1', keys.integrityKey).update(price).update(iv).digest().subarray(0, SIGNATURE_BYTES);
}

/** One key as an exchange hands it out (see {@link parsePriceKeys}); `undefined` empty or not base64. */
export function decodePriceKey(text: string): Buffer | undefined {
  const decoded = decodeBase64(text, 'the key');
  return 'bytes' in decoded && decoded.bytes.length > 0 ? decoded.bytes : undefined;
}
