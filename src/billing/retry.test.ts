import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextAttemptMs, retryAfterDueMs, retryPolicy } from './retry.js';

const HOUR_MS = 3_600_000;

/** A call that ended as it began, at `ms`. */
const at = (ms: number) => ({ startedMs: ms, endedMs: ms });

describe('burl retry policy', () => {
  it('retries every 10 s for the first minute', () => {
    for (let attempts = 1; attempts <= 6; attempts++)
      assert.equal(nextAttemptMs(attempts, at(0), 3 * HOUR_MS), 10_000);
  });

  it('times the next try from when the failed call began, not when it ended, and never before it ended', () => {
    // A DSP that never answers, called with a 10 s time limit: tried again as the limit ends.
    assert.equal(nextAttemptMs(1, { startedMs: 0, endedMs: 10_000 }, 3 * HOUR_MS), 10_000);
    assert.equal(nextAttemptMs(1, { startedMs: 0, endedMs: 4_000 }, 3 * HOUR_MS), 10_000);
    // A limit longer than the interval: at once.
    assert.equal(nextAttemptMs(1, { startedMs: 0, endedMs: 15_000 }, 3 * HOUR_MS), 15_000);
    // Begun before the deadline and ended after it: dead.
    assert.equal(
      nextAttemptMs(1, { startedMs: 3 * HOUR_MS - 1, endedMs: 3 * HOUR_MS + 9_999 }, 3 * HOUR_MS),
      null,
    );
  });

  it('never waits less than its first interval, even one longer than the 15 minutes it backs off to', () => {
    const hourly = retryPolicy(HOUR_MS);
    for (const attempts of [1, 2, 3, 10])
      assert.equal(nextAttemptMs(attempts, at(0), 10 * HOUR_MS, hourly), HOUR_MS);
    const fiveMinutes = retryPolicy(300_000);
    assert.deepEqual(
      [1, 2, 3, 4].map((attempts) => nextAttemptMs(attempts, at(0), 10 * HOUR_MS, fiveMinutes)),
      [300_000, 600_000, 900_000, 900_000],
    );
  });

  it('then backs off, doubling, up to 15 minutes', () => {
    assert.equal(nextAttemptMs(7, at(0), 3 * HOUR_MS), 20_000);
    assert.equal(nextAttemptMs(8, at(0), 3 * HOUR_MS), 40_000);
    assert.equal(nextAttemptMs(20, at(0), 3 * HOUR_MS), 900_000);
    assert.equal(nextAttemptMs(500, at(0), 3 * HOUR_MS), 900_000);
  });

  it('makes the last try at the deadline when the next interval would end after it', () => {
    assert.equal(nextAttemptMs(1, at(3 * HOUR_MS - 5_000), 3 * HOUR_MS), 3 * HOUR_MS);
    assert.equal(nextAttemptMs(1, at(3 * HOUR_MS - 10_000), 3 * HOUR_MS), 3 * HOUR_MS);
    // Backing off by 15 minutes, 5 minutes before the deadline: not dead 5 minutes early.
    assert.equal(nextAttemptMs(20, at(3 * HOUR_MS - 5 * 60_000), 3 * HOUR_MS), 3 * HOUR_MS);
  });

  it('gives up once the deadline has come', () => {
    assert.equal(nextAttemptMs(1, at(3 * HOUR_MS), 3 * HOUR_MS), null);
    assert.equal(nextAttemptMs(20, at(3 * HOUR_MS + 1), 3 * HOUR_MS), null);
  });

  it('keeps to whole intervals within the first minute for an interval that does not divide it, then doubles', () => {
    const policy = { firstMinuteIntervalMs: 7_000, maxIntervalMs: 15 * 60_000 };
    // Eight retries 7 s apart fit in the first minute (56 s); the ninth would not.
    for (let attempts = 1; attempts <= 8; attempts++)
      assert.equal(nextAttemptMs(attempts, at(0), 3 * HOUR_MS, policy), 7_000, `attempt ${attempts}`);
    assert.equal(nextAttemptMs(9, at(0), 3 * HOUR_MS, policy), 14_000);
  });

  it('waits one whole interval before the first retry when the interval is longer than a minute, then doubles', () => {
    const policy = { firstMinuteIntervalMs: 120_000, maxIntervalMs: 15 * 60_000 };
    assert.equal(nextAttemptMs(1, at(0), 3 * HOUR_MS, policy), 120_000);
    assert.equal(nextAttemptMs(2, at(0), 3 * HOUR_MS, policy), 240_000);
    assert.equal(nextAttemptMs(4, at(0), 3 * HOUR_MS, policy), 900_000);
  });

  it('waits as long as a Retry-After asks when that is longer than its own interval, but tries last at the deadline still', () => {
    const policy = retryPolicy(10_000);
    assert.equal(nextAttemptMs(1, at(0), 3 * HOUR_MS, policy, 120_000), 120_000);
    // Shorter than its interval: the interval stands.
    assert.equal(nextAttemptMs(1, at(0), 3 * HOUR_MS, policy, 5_000), 10_000);
    // Past the deadline: the last try is at the deadline, as without one.
    assert.equal(nextAttemptMs(1, at(0), 3 * HOUR_MS, policy, 5 * HOUR_MS), 3 * HOUR_MS);
  });

  it('reads a Retry-After of seconds or of an HTTP date, and none that is neither', () => {
    const endedMs = Date.UTC(2026, 11, 4, 10, 0, 0);
    assert.equal(retryAfterDueMs('120', endedMs), endedMs + 120_000);
    assert.equal(retryAfterDueMs('Fri, 04 Dec 2026 10:05:00 GMT', endedMs), endedMs + 300_000);
    assert.equal(retryAfterDueMs(undefined, endedMs), undefined);
    assert.equal(retryAfterDueMs('soon', endedMs), undefined);
    assert.equal(retryAfterDueMs('-5', endedMs), undefined);
  });
});
