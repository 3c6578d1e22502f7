import type { Logger } from './log.js';

/**
 * Logs `event` at error level at most once every `intervalMs`: a fault that repeats on every
 * batch (a full disk, a locked database) is logged as it begins and then once an interval, each
 * line saying how many like it were left out since the last (`repeats`), rather than flooding the
 * log with one line a batch.
 */
export function throttledErrorLog(
  log: Logger,
  event: string,
  intervalMs: number,
  nowMs: () => number = Date.now,
): (fields: Record<string, unknown>) => void {
  return throttled((fields) => log.error(event, fields), intervalMs, nowMs);
}

/** {@link throttledErrorLog} at warning level: for what others cause in numbers (dead burls). */
export function throttledWarnLog(
  log: Logger,
  event: string,
  intervalMs: number,
  nowMs: () => number = Date.now,
): (fields: Record<string, unknown>) => void {
  return throttled((fields) => log.warn(event, fields), intervalMs, nowMs);
}

function throttled(
  write: (fields: Record<string, unknown>) => void,
  intervalMs: number,
  nowMs: () => number,
): (fields: Record<string, unknown>) => void {
  let loggedAtMs = -Infinity;
  let repeats = 0;
  return (fields) => {
    const atMs = nowMs();
    // A clock stepped back since the last line (NTP) ends the interval: a fault that began since is
    // logged at once rather than only once the clock has caught up, hours later.
    if (atMs >= loggedAtMs && atMs - loggedAtMs < intervalMs) {
      repeats++;
      return;
    }
    write({ ...fields, repeats });
    loggedAtMs = atMs;
    repeats = 0;
  };
}
