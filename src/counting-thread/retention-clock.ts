/**
 * The time retention pruning reads as now: the wall clock's, but never later than where it stood
 * as the counting thread started (`startWallMs`: the wall clock then, or the newest notice the
 * ledger held if that is later, the clock then being behind) plus the time passed since by the
 * monotonic clock (`startMonotonicMs`, `performance.now()`). A wall clock stepped forward while
 * Tally runs (a wrong NTP server, a hypervisor's) would otherwise have the next pass delete at once,
 * for good, the notices that did not count and the delivered burls the retention keeps, as if that
 * time had passed. A clock set forward since the start (one behind at boot), or a machine suspended
 * while Tally runs (`performance.now()` stops meanwhile), delays pruning as much, until the next
 * start; one ahead at start is taken as it is.
 */
export function retentionClock(
  startWallMs: number,
  startMonotonicMs: number,
): (wallMs: number, monotonicMs: number) => number {
  return (wallMs, monotonicMs) => Math.min(wallMs, startWallMs + (monotonicMs - startMonotonicMs));
}
