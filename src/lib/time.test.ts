import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOUR_MS, hourStartMs } from './time.js';

describe('the UTC hour', () => {
  it('starts at the hour an instant falls in, an instant on the hour starting its own', () => {
    assert.equal(HOUR_MS, 60 * 60 * 1000);
    assert.equal(hourStartMs(Date.UTC(2026, 11, 3, 11, 59, 59, 999)), Date.UTC(2026, 11, 3, 11));
    assert.equal(hourStartMs(Date.UTC(2026, 11, 3, 11)), Date.UTC(2026, 11, 3, 11));
    assert.equal(hourStartMs(Date.UTC(2026, 11, 3, 12, 0, 0, 1)), Date.UTC(2026, 11, 3, 12));
  });
});
