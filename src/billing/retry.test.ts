import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextAttemptMs, retryAfterDueMs, retryPolicy } from './retry.js';

const HOUR_MS = 3_600_000;

/**
 * A call that ended as it began, at `ms`, of a delivery whose first failed call began at
 * `firstFailedMs` (0 unless given).
 */
const at = (ms: number, firstFailedMs = 0) => ({ startedMs: ms, endedMs: ms, firstFailedMs });

describe('burl retry policy', () => {
  it('retries every 10 s for the first minute after the first failed call began', () => {
    for (const startedMs of [0, 10_000, 20_000, 30_000, 40_000, 50_000])
      assert.equal(nextAttemptMs(at(startedMs), 3 * HOUR_MS), startedMs + 10_000, `at ${startedMs} ms`);
  });

  it('times the next try from when the failed call began, not when it ended, and never before it ended', () => {
    // A DSP that never answers, called with a 10 s time limit: tried again as the limit ends.
    assert.equal(nextAttemptMs({ startedMs: 0, endedMs: 10_000, firstFailedMs: 0 }, 3 * HOUR_MS), 10_000);
    assert.equal(nextAttemptMs({ startedMs: 0, endedMs: 4_000, firstFailedMs: 0 }, 3 * HOUR_MS), 10_000);
    // A limit longer than the interval: at once.
    assert.equal(nextAttemptMs({ startedMs: 0, endedMs: 15_000, firstFailedMs: 0 }, 3 * HOUR_MS), 15_000);
    // Begun before the deadline and ended after it: dead.
    const lastMs = 3 * HOUR_MS - 1;
    assert.equal(
      nextAttemptMs({ startedMs: lastMs, endedMs: 3 * HOUR_MS + 9_999, firstFailedMs: 0 }, 3 * HOUR_MS),
      null,
    );
  });

  it('never waits less than its first interval, even one longer than the 15 minutes it backs off to', () => {
    const hourly = retryPolicy(HOUR_MS);
    for (const startedMs of [0, HOUR_MS, 2 * HOUR_MS, 5 * HOUR_MS])
      assert.equal(nextAttemptMs(at(startedMs), 10 * HOUR_MS, hourly), startedMs + HOUR_MS);
    const fiveMinutes = retryPolicy(300_000);
    assert.deepEqual(
      [0, 300_000, 900_000, 1_800_000].map(
        (startedMs) => (nextAttemptMs(at(startedMs), 10 * HOUR_MS, fiveMinutes) ?? 0) - startedMs,
      ),
      [300_000, 600_000, 900_000, 900_000],
    );
  });

  it('then backs off, doubling, up to 15 minutes', () => {
    // Tried at 60 s, 80 s, 120 s, 200 s…: each wait twice the one before.
    assert.equal(nextAttemptMs(at(60_000), 3 * HOUR_MS), 80_000);
    assert.equal(nextAttemptMs(at(80_000), 3 * HOUR_MS), 120_000);
    assert.equal(nextAttemptMs(at(120_000), 3 * HOUR_MS), 200_000);
    assert.equal(nextAttemptMs(at(HOUR_MS), 3 * HOUR_MS), HOUR_MS + 900_000);
  });

  it('keeps the 10 s cadence by the time since the first failed call began, not by the attempts made', () => {
    // Seven attempts within 30 s (leases that ran out count too): still the first minute.
    assert.equal(nextAttemptMs(at(30_000), 3 * HOUR_MS), 40_000);
    // A Retry-After put the second try at 120 s: past the first minute, it backs off (60 s on
    // from the minute's end, plus twice the interval), where counting attempts called at 130 s.
    assert.equal(nextAttemptMs(at(120_000), 3 * HOUR_MS), 200_000);
    // Calls that each took 25 s: the one begun at 75 s is past the minute, and waits 35 s.
    assert.equal(
      nextAttemptMs({ startedMs: 75_000, endedMs: 100_000, firstFailedMs: 0 }, 3 * HOUR_MS),
      110_000,
    );
    // The minute is the delivery's own: from when its first failed call began.
    assert.equal(nextAttemptMs(at(HOUR_MS + 50_000, HOUR_MS), 3 * HOUR_MS), HOUR_MS + 60_000);
  });

  it('makes the last try at the deadline when the next interval would end after it', () => {
    assert.equal(nextAttemptMs(at(3 * HOUR_MS - 5_000, 3 * HOUR_MS - 5_000), 3 * HOUR_MS), 3 * HOUR_MS);
    assert.equal(nextAttemptMs(at(3 * HOUR_MS - 10_000, 3 * HOUR_MS - 10_000), 3 * HOUR_MS), 3 * HOUR_MS);
    // Backing off by 15 minutes, 5 minutes before the deadline: not dead 5 minutes early.
    assert.equal(nextAttemptMs(at(3 * HOUR_MS - 5 * 60_000), 3 * HOUR_MS), 3 * HOUR_MS);
  });

  it('gives up once the deadline has come', () => {
    assert.equal(nextAttemptMs(at(3 * HOUR_MS, 3 * HOUR_MS), 3 * HOUR_MS), null);
    assert.equal(nextAttemptMs(at(3 * HOUR_MS + 1), 3 * HOUR_MS), null);
  });

  it('keeps to whole intervals within the first minute for an interval that does not divide it, then doubles', () => {
    const policy = { firstMinuteIntervalMs: 7_000, maxIntervalMs: 15 * 60_000 };
    // Eight retries 7 s apart fit in the first minute (56 s); the ninth would not.
    for (let retry = 0; retry < 8; retry++)
      assert.equal(
        nextAttemptMs(at(retry * 7_000), 3 * HOUR_MS, policy),
        (retry + 1) * 7_000,
        `retry ${retry}`,
      );
    assert.equal(nextAttemptMs(at(56_000), 3 * HOUR_MS, policy), 70_000);
  });

  it('waits one whole interval before the first retry when the interval is longer than a minute, then doubles', () => {
    const policy = { firstMinuteIntervalMs: 120_000, maxIntervalMs: 15 * 60_000 };
    assert.equal(nextAttemptMs(at(0), 3 * HOUR_MS, policy), 120_000);
    assert.equal(nextAttemptMs(at(120_000), 3 * HOUR_MS, policy), 360_000);
    assert.equal(nextAttemptMs(at(360_000), 3 * HOUR_MS, policy), 840_000);
    assert.equal(nextAttemptMs(at(840_000), 3 * HOUR_MS, policy), 1_740_000);
  });

  it('waits as long as a Retry-After asks when that is longer than its own interval, but tries last at the deadline still', () => {
    const policy = retryPolicy(10_000);
    assert.equal(nextAttemptMs(at(0), 3 * HOUR_MS, policy, 120_000), 120_000);
    // Shorter than its interval: the interval stands.
    assert.equal(nextAttemptMs(at(0), 3 * HOUR_MS, policy, 5_000), 10_000);
    // Past the deadline: the last try is at the deadline, as without one.
    assert.equal(nextAttemptMs(at(0), 3 * HOUR_MS, policy, 5 * HOUR_MS), 3 * HOUR_MS);
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
