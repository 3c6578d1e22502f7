import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * A report's `from=…&to=…` around now: from the hour before this one to the end of the next, so
 * that it holds what a test serves now even when the hour turns while it runs.
 */
export function reportWindowAroundNow(): string {
  const hourMs = hourStartMs(Date.now());
  return `from=${new Date(hourMs - HOUR_MS).toISOString()}&to=${new Date(hourMs + 2 * HOUR_MS).toISOString()}`;
}
