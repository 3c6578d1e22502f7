// Preloaded into a `tally serve` (`--import`) by a test that needs an error no code path catches:
// on SIGUSR2, the main thread throws from a callback of its own, as a bug would.
import { isMainThread } from 'node:worker_threads';

/** The message of the error thrown, which the test finds in the log. */
export const INJECTED_FAULT = 'fault injected by the test on SIGUSR2';

if (isMainThread)
  process.on('SIGUSR2', () => {
    setImmediate(() => {
      throw new Error(INJECTED_FAULT);
    });
  });
