import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LayeredMap } from './layered-map.js';

const KEYS = 300;

/** What a map answers for every key that can occur, and its values sorted. */
function contents(map: { get(key: number): string | undefined; values(): Iterable<string> }) {
  return {
    byKey: Array.from({ length: KEYS }, (_, key) => map.get(key) ?? null),
    values: [...map.values()].sort(),
  };
}

describe('LayeredMap', () => {
  it('answers like a Map after any sequence of batched sets and deletes, and every older version keeps its answers', () => {
    const change = fc.tuple(
      fc.nat({ max: KEYS - 1 }),
      fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: KEYS - 1 }), fc.string({ maxLength: 3 })), { maxLength: 200 }),
        fc.array(fc.array(change, { minLength: 1, maxLength: 20 }), { maxLength: 60 }),
        (initial, batches) => {
          const model = new Map(initial);
          let map = LayeredMap.of(initial);
          const versions: { map: LayeredMap<number, string>; answered: ReturnType<typeof contents> }[] = [];
          for (const batch of batches) {
            versions.push({ map, answered: contents(map) });
            for (const [key, value] of batch) {
              if (value === undefined) model.delete(key);
              else model.set(key, value);
            }
            map = map.with(batch);
            assert.deepEqual(contents(map), contents(model));
          }
          for (const version of versions) assert.deepEqual(contents(version.map), version.answered);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps every entry through a thousand single changes, across the folds of its overlay into a new base', () => {
    let map = LayeredMap.of<number, string>([]);
    for (let key = 0; key < 1000; key++) map = map.with([[key, `v${key}`]]);
    map = map.with([[5, undefined]]);
    assert.equal([...map.values()].length, 999);
    assert.equal(map.get(5), undefined);
    assert.equal(map.get(999), 'v999');
  });
});
