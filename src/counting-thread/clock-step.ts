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
