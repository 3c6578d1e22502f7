import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clockStepWatch } from './clock-step.js';

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
