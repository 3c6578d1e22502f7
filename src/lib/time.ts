/** One hour in milliseconds. */
export const HOUR_MS = 3_600_000;

/** Start of the UTC hour that `ms` (epoch milliseconds) falls in. */
export function hourStartMs(ms: number): number {
  return ms - (ms % HOUR_MS);
}
