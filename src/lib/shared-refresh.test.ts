import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sharedRefresh } from './shared-refresh.js';

/** A shared refresh of 1000 ms maximum age on the clock `nowMs`, whose runs end when the test says. */
function heldRefresh(nowMs: () => number) {
  let runs = 0;
  let finish: () => void = () => undefined;
  const refresh = sharedRefresh(
    () => {
      runs++;
      return new Promise<void>((resolve) => (finish = resolve));
    },
    1000,
    nowMs,
  );
  return { refresh, runs: () => runs, finish: () => finish() };
}

describe('a refresh its callers share', () => {
  it('runs once for callers that come while it runs, and not again within the maximum age', async () => {
    let clockMs = 0;
    const { refresh, runs, finish } = heldRefresh(() => clockMs);
    const waiting = Array.from({ length: 50 }, () => refresh());
    assert.equal(runs(), 1);
    finish();
    await Promise.all(waiting);
    clockMs = 999;
    await refresh();
    assert.equal(runs(), 1, 'a refresh 999 ms after the last is not run again');
    clockMs = 1000;
    const next = refresh();
    assert.equal(runs(), 2, 'one 1000 ms after it is');
    finish();
    await next;
  });

  it('counts the maximum age from when the last run ended, not from when it began', async () => {
    let clockMs = 5000;
    const { refresh, runs, finish } = heldRefresh(() => clockMs);
    const first = refresh();
    clockMs = 5500;
    finish();
    await first;
    clockMs = 6499;
    await refresh();
    assert.equal(runs(), 1, 'a refresh 999 ms after the last ended is not run again');
    clockMs = 6500;
    const next = refresh();
    assert.equal(runs(), 2, 'one 1000 ms after it ended is');
    finish();
    await next;
  });
});
