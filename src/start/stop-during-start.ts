/**
 * A stop signal (SIGTERM, SIGINT) came while Tally was starting: the start stopped at its next
 * {@link stopPoint}, having undone what it had opened.
 */
export class StartStoppedError extends Error {
  constructor(
    /** The signal's name. */
    readonly signal: string,
  ) {
    super(`stopped by ${signal} while starting`);
    this.name = 'StartStoppedError';
  }
}

/**
 * A point where a start may stop: lets the handlers of the signals that came meanwhile run (a
 * start's synchronous steps hold them back), then throws a
 * {@link StartStoppedError} when `stop` was aborted (its reason the signal's name).
 */
export async function stopPoint(stop: AbortSignal): Promise<void> {
  // Two turns: an immediate queued while the loop polls runs before it polls again for signals.
  await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
  if (stop.aborted) throw new StartStoppedError(String(stop.reason));
}
