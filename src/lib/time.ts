/** One hour in milliseconds. */
export const HOUR_MS = 3_600_000;
/** One day (of UTC, 24 hours) in milliseconds. */
export const DAY_MS = 86_400_000;

/** Start of the UTC hour that `ms` (epoch milliseconds) falls in. */
export function hourStartMs(ms: number): number {
  return ms - (ms % HOUR_MS);
}
