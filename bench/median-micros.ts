/** Each body is timed until this much time has passed, and at least `MIN_REPEATS` times. */
const MIN_TOTAL_MS = 500;
const MIN_REPEATS = 3;

/** The median time of one call of `body`, in µs, timed for at least 500 ms and 3 calls. */
export function medianMicros(body: () => unknown): number {
  const timings: number[] = [];
  const started = performance.now();
  while (timings.length < MIN_REPEATS || performance.now() - started < MIN_TOTAL_MS) {
    const runStarted = performance.now();
    body();
    timings.push((performance.now() - runStarted) * 1000);
  }
  timings.sort((a, b) => a - b);
  return timings[Math.floor(timings.length / 2)] ?? Number.NaN;
}
