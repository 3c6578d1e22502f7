import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ClaimIndex } from './claim-index.js';

describe('the claim index', () => {
  it('finds exactly the live claims, as a plain map of keys would, through growth and expiry', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.string({ maxLength: 6 }), ttlMs: fc.integer({ min: 0, max: 50 }) }), {
          maxLength: 400,
        }),
        (claims) => {
          const index = new ClaimIndex(16);
          const keysById = new Map<number, string>();
          const model = new Map<string, number>();
          claims.forEach(({ key, ttlMs }, step) => {
            const nowMs = step;
            const live = (model.get(key) ?? -1) >= nowMs;
            const found = index.find(key, nowMs, (id) => keysById.get(id));
            assert.equal(found !== 0, live, `step ${step}: ${JSON.stringify(key)}`);
            if (!live) {
              const eventId = step + 1;
              keysById.set(eventId, key);
              index.add(key, eventId, nowMs + ttlMs, nowMs);
              model.set(key, nowMs + ttlMs);
            }
          });
        },
      ),
    );
  });

  it('does not take a key for another whose fingerprint matches: the stored key decides', () => {
    const index = new ClaimIndex();
    index.add('a', 1, 100, 0);
    assert.equal(
      index.find('a', 0, () => 'a'),
      1,
    );
    assert.equal(
      index.find('a', 0, () => 'not a'),
      0,
      'the event behind the match holds another key',
    );
  });

  it('drops expired claims when it grows, so its size follows the live claims', () => {
    const index = new ClaimIndex(16);
    for (let id = 1; id <= 10_000; id++) index.add(`k${id}`, id, id + 10, id);
    assert.equal(index.liveCount(10_000), 11);
  });
});
