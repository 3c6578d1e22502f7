/**
 * Wraps `refresh` so that its callers share runs: a call while a run is under way waits for that
 * run, and a call within `maxAgeMs` of the end of the last one is answered at once. So however
 * often it is called (scrapes of a public endpoint, say), `refresh` runs at most once at a time
 * and once per `maxAgeMs`. `refresh` must not throw.
 */
export function sharedRefresh(
  refresh: () => Promise<void>,
  maxAgeMs: number,
  nowMs: () => number = Date.now,
): () => Promise<void> {
  let running: Promise<void> | undefined;
  let endedAtMs = Number.NEGATIVE_INFINITY;
  return () => {
    if (running !== undefined) return running;
    if (nowMs() - endedAtMs < maxAgeMs) return Promise.resolve();
    running = refresh().finally(() => {
      running = undefined;
      endedAtMs = nowMs();
    });
    return running;
  };
}
