import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retentionClock } from './retention-clock.js';

const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;
/** The wall clock as the counting thread started, and the monotonic clock then. */
const STARTED_MS = Date.UTC(2026, 11, 7, 10);
const STARTED_MONOTONIC_MS = 5_000;

describe('the retention clock', () => {
  it('reads the wall clock while it runs no faster than the monotonic one', () => {
    const now = retentionClock(STARTED_MS, STARTED_MONOTONIC_MS);
    assert.equal(now(STARTED_MS + 60_000, STARTED_MONOTONIC_MS + 60_000), STARTED_MS + 60_000);
    // Slewed a little slow, or stepped back: the wall clock's, the earlier.
    assert.equal(now(STARTED_MS - HOUR_MS, STARTED_MONOTONIC_MS + 60_000), STARTED_MS - HOUR_MS);
  });

  it('goes on by the time passed alone when the wall clock steps a year forward', () => {
    const now = retentionClock(STARTED_MS, STARTED_MONOTONIC_MS);
    assert.equal(now(STARTED_MS + YEAR_MS, STARTED_MONOTONIC_MS + HOUR_MS), STARTED_MS + HOUR_MS);
    // Stepped back right: the wall clock's again.
    assert.equal(now(STARTED_MS + 2 * HOUR_MS, STARTED_MONOTONIC_MS + 2 * HOUR_MS), STARTED_MS + 2 * HOUR_MS);
  });
});
