import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clockStepWatch, wallClockJumpWatch } from './clock-step.js';

describe('clockStepWatch', () => {
  it('tells of a notice received further back than it tolerates from the latest seen, and of none within it', () => {
    const steps: number[] = [];
    const watch = clockStepWatch(10_000, (steppedBackMs) => steps.push(steppedBackMs));
    for (const receivedMs of [1_000_000, 1_060_000, 1_050_000, 1_049_999, 1_070_000, 1_000_000])
      watch(receivedMs);
    assert.deepEqual(steps, [10_001, 70_000]);
  });

  it('tells of a clock stepped back across a restart, from the last notice the ledger recorded', () => {
    const steps: number[] = [];
    const watch = clockStepWatch(10_000, (steppedBackMs) => steps.push(steppedBackMs), 2_000_000);
    watch(1_000_000);
    assert.deepEqual(steps, [1_000_000]);
  });
});

describe('wallClockJumpWatch', () => {
  it('tells of a wall clock that went forward further than the monotonic clock by more than it tolerates, once', () => {
    const steps: number[] = [];
    const watch = wallClockJumpWatch(10_000, (steppedForwardMs) => steps.push(steppedForwardMs));
    // Both clocks advance alike, then the wall clock jumps an hour, then both go on alike.
    watch(1_000_000, 500);
    watch(1_005_000, 5_500);
    watch(4_610_000, 10_500);
    watch(4_615_000, 15_500);
    // Within the tolerance, or back (clockStepWatch's part): nothing.
    watch(4_630_000, 20_500);
    watch(4_000_000, 25_500);
    assert.deepEqual(steps, [3_600_000]);
  });
});
