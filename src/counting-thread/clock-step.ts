/**
 * Watches the times notices were received, batch after batch, for a clock stepped back further
 * than `toleratedMs`: `onStep` is told by how much, for each notice received that much before the
 * latest one seen so far.
 */
export function clockStepWatch(
  toleratedMs: number,
  onStep: (steppedBackMs: number) => void,
): (receivedMs: number) => void {
  let latestMs = -Infinity;
  return (receivedMs) => {
    if (receivedMs < latestMs - toleratedMs) onStep(latestMs - receivedMs);
    if (receivedMs > latestMs) latestMs = receivedMs;
  };
}
