/**
 * Watches the times notices were received, batch after batch, for a clock stepped back further
 * than `toleratedMs`: `onStep` is told by how much, for each notice received that much before the
 * latest one seen so far, or before `latestMs` (the last one the ledger recorded, before a restart).
 */
export function clockStepWatch(
  toleratedMs: number,
  onStep: (steppedBackMs: number) => void,
  latestMs = -Infinity,
): (receivedMs: number) => void {
  return (receivedMs) => {
    if (receivedMs < latestMs - toleratedMs) onStep(latestMs - receivedMs);
    if (receivedMs > latestMs) latestMs = receivedMs;
  };
}

/**
 * Watches the wall clock against the monotonic one, call after call, for a wall clock that went
 * forward more than `toleratedMs` further than the monotonic clock between two calls (a step
 * forward, or a machine paused and resumed): `onStep` is told by how much. A step back is left to
 * {@link clockStepWatch}; a slewed clock moves both alike.
 */
export function wallClockJumpWatch(
  toleratedMs: number,
  onStep: (steppedForwardMs: number) => void,
): (wallMs: number, monotonicMs: number) => void {
  let lastOffsetMs: number | undefined;
  return (wallMs, monotonicMs) => {
    const offsetMs = wallMs - monotonicMs;
    if (lastOffsetMs !== undefined && offsetMs - lastOffsetMs > toleratedMs) onStep(offsetMs - lastOffsetMs);
    lastOffsetMs = offsetMs;
  };
}
