import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ClaimIndex, claimKey } from './claim-index.js';

/** While two tables (both powers of two) coexist, the slot count is not a power of two. */
function nextPowerOfTwoAtMost(value: number): number {
  return 2 ** Math.floor(Math.log2(value));
}

describe('the claim index', () => {
  it('finds exactly the live claims, as a plain map of keys would, through table replacements and expiry', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            key: fc.string({ maxLength: 4 }),
            ttlMs: fc.integer({ min: 0, max: 300 }),
            elapsedMs: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 100, maxLength: 1500 },
        ),
        (claims) => {
          const index = new ClaimIndex(16);
          const keysById = new Map<number, string>();
          const model = new Map<string, number>();
          let nowMs = 0;
          claims.forEach(({ key, ttlMs, elapsedMs }, step) => {
            nowMs += elapsedMs;
            const live = (model.get(key) ?? -1) >= nowMs;
            const found = index.find(claimKey(key), nowMs, (id) => keysById.get(id));
            assert.equal(found !== 0, live, `step ${step}: ${JSON.stringify(key)}`);
            if (found !== 0) assert.equal(keysById.get(found), key);
            if (!live) {
              const eventId = step + 1;
              keysById.set(eventId, key);
              index.add(claimKey(key), eventId, nowMs + ttlMs, nowMs);
              model.set(key, nowMs + ttlMs);
            }
          });
          const liveInModel = [...model.values()].filter((expiresMs) => expiresMs >= nowMs).length;
          assert.equal(index.liveCount(nowMs), liveInModel);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('does not take a key for another whose fingerprint matches: the stored key decides', () => {
    const index = new ClaimIndex();
    index.add(claimKey('a'), 1, 100, 0);
    assert.equal(
      index.find(claimKey('a'), 0, () => 'a'),
      1,
    );
    assert.equal(
      index.find(claimKey('a'), 0, () => 'not a'),
      0,
      'the event behind the match holds another key',
    );
  });

  it('drops expired claims when it replaces its table, so its size follows the live claims', () => {
    const index = new ClaimIndex(16);
    for (let id = 1; id <= 10_000; id++) index.add(claimKey(`k${id}`), id, id + 10, id);
    assert.equal(index.liveCount(10_000), 11);
    assert.ok(index.slots() <= 256, `${index.slots()} slots for 11 live claims`);
  });

  it('moves its claims to a larger table a few slots per add, finding every one throughout', () => {
    const index = new ClaimIndex(16);
    const keyOf = (id: number) => `k${id}`;
    let longestMove = 0;
    let move = 0;
    for (let id = 1; id <= 20_000; id++) {
      index.add(claimKey(keyOf(id)), id, Number.MAX_SAFE_INTEGER, 0);
      const moving = index.slots() > nextPowerOfTwoAtMost(index.slots());
      move = moving ? move + 1 : 0;
      longestMove = Math.max(longestMove, move);
      if (id % 997 === 0) {
        for (let probe = 1; probe <= id; probe += 13)
          assert.equal(index.find(claimKey(keyOf(probe)), 0, keyOf), probe);
      }
    }
    assert.ok(longestMove >= 100, `the last move took ${longestMove} adds, not spread out`);
    assert.equal(index.liveCount(0), 20_000);
  });
});
