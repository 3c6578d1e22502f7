import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecountedValue } from './recounted-value.js';

/** A count answering 1, 2, 3… at each taking, each taking `tookMs` by the clock it advances. */
function countTaking(tookMs: number): { value: RecountedValue; takings: () => number } {
  let takings = 0;
  let clockMs = 0;
  const value = new RecountedValue(
    () => {
      clockMs += tookMs;
      return ++takings;
    },
    100,
    () => clockMs,
  );
  return { value, takings: () => takings };
}

describe('RecountedValue', () => {
  it('takes a count that lasted 20 ms again only once 100 times as long has passed, answering the last meanwhile', () => {
    const { value, takings } = countTaking(20);
    assert.deepEqual([value.read(1000), value.read(2000), value.read(2999)], [1, 1, 1]);
    assert.equal(value.read(3000), 2);
    assert.equal(takings(), 2);
  });

  it('takes a count that lasts no time again at every read', () => {
    const { value } = countTaking(0);
    assert.deepEqual([value.read(1000), value.read(1000), value.read(1001)], [1, 2, 3]);
  });

  it('takes the count again when the time read goes back, rather than wait for the clock to catch up', () => {
    const { value } = countTaking(20);
    assert.deepEqual([value.read(10_000), value.read(9_000)], [1, 2]);
  });
});
