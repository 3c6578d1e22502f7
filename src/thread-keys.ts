import type { PriceKeys } from './domain/price-crypto.js';
import type { KeyRing } from './domain/token.js';

/**
 * The token key ring and the price keys (by account and seat) in the form they travel to a worker thread:
 * plain entries, whose buffers a structured clone turns into `Uint8Array`s.
 */
export interface ThreadKeys {
  tokenKeys: { id: number; key: Uint8Array }[];
  signingKeyId: number;
  priceKeys: [name: string, keys: PriceKeys][];
}

/** The keys, ready to send to a worker thread. */
export function threadKeys(keyRing: KeyRing, priceKeys: ReadonlyMap<string, PriceKeys>): ThreadKeys {
  return {
    tokenKeys: [...keyRing.keys].map(([id, key]) => ({ id, key })),
    signingKeyId: keyRing.signingKeyId,
    priceKeys: [...priceKeys],
  };
}

/** In the worker thread: the key ring, with its keys as buffers again. */
export function keyRingOf(keys: ThreadKeys): KeyRing {
  return {
    signingKeyId: keys.signingKeyId,
    keys: new Map(keys.tokenKeys.map(({ id, key }) => [id, Buffer.from(key)])),
  };
}

/** In the worker thread: the price keys by account and seat, with their keys as buffers again. */
export function priceKeysOf(keys: ThreadKeys): ReadonlyMap<string, PriceKeys> {
  return new Map(
    keys.priceKeys.map(([name, { encryptionKey, integrityKey }]) => [
      name,
      { encryptionKey: Buffer.from(encryptionKey), integrityKey: Buffer.from(integrityKey) },
    ]),
  );
}
