import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeyRing } from './domain/token.js';
import { keyRingOf, priceKeysOf, threadKeys } from './thread-keys.js';

describe('keys sent to a worker thread', () => {
  it('arrive as the same key ring and price keys, as buffers, through the structured clone a message is', () => {
    const ring: KeyRing = {
      signingKeyId: 2,
      keys: new Map([
        [1, Buffer.alloc(32, 1)],
        [2, Buffer.alloc(32, 2)],
      ]),
    };
    const priceKeys = new Map([
      ['s1', { encryptionKey: Buffer.alloc(32, 3), integrityKey: Buffer.alloc(32, 4) }],
      ['s2', { encryptionKey: Buffer.alloc(32, 5), integrityKey: Buffer.alloc(32, 6) }],
    ]);
    // What `postMessage` does to the keys on their way to the thread.
    const received = structuredClone(threadKeys(ring, priceKeys));
    assert.ok(!Buffer.isBuffer(received.tokenKeys[0]?.key), 'the clone turned the buffers into Uint8Arrays');
    assert.deepEqual(keyRingOf(received), ring);
    assert.deepEqual(priceKeysOf(received), priceKeys);
  });
});
