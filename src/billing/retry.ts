/** How failed burl deliveries are retried. */
export interface RetryPolicy {
  /** Interval during the first minute of retries, in ms (OpenRTB 2.6 §7.8 suggests 10 s). */
  firstMinuteIntervalMs: number;
  /** Longest wait between two attempts once backing off, in ms. */
  maxIntervalMs: number;
}

/** The longest wait once backing off, unless the first interval is longer still. */
const MAX_BACKOFF_MS = 15 * 60_000;

/**
 * Retries every `firstMinuteIntervalMs` for the first minute, then backing off up to 15 minutes,
 * or up to the first interval when that is longer: no later wait is shorter than the first.
 */
export function retryPolicy(firstMinuteIntervalMs: number): RetryPolicy {
  return { firstMinuteIntervalMs, maxIntervalMs: Math.max(MAX_BACKOFF_MS, firstMinuteIntervalMs) };
}

const DEFAULT_RETRY_POLICY = retryPolicy(10_000);

const MINUTE_MS = 60_000;

/**
 * When a call of a delivery began and when it ended (its answer, error or time limit), and when
 * the first failed call of the delivery began (this call's start, for its first failure), epoch ms.
 */
interface CallTimes {
  startedMs: number;
  endedMs: number;
  firstFailedMs: number;
}

/**
 * When to try again after a failed call: an interval after the call began (a call that timed out
 * took part of it), every interval while the next try falls due within the first minute after the
 * delivery's first failed call began (at least once), then waiting twice as long as the wait before,
 * capped: the first wait past the cadence is two intervals from where it ended, and each later one
 * is that plus the time since (so by the clock, however slow the calls or late a `Retry-After` put
 * them, not by the attempts made); not before the call ended, nor before `notBeforeMs` (the time a
 * DSP's `Retry-After` named); never later than the deadline, so that the last try is at the
 * deadline rather than up to an interval before it. `null` once the deadline has come: the
 * delivery is then dead.
 */
export function nextAttemptMs(
  call: CallTimes,
  deadlineMs: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  notBeforeMs = 0,
): number | null {
  if (call.endedMs >= deadlineMs) return null;
  const firstIntervalMs = policy.firstMinuteIntervalMs;
  const cadenceRetries = Math.max(1, Math.floor(MINUTE_MS / firstIntervalMs));
  const cadenceEndsMs = call.firstFailedMs + cadenceRetries * firstIntervalMs;
  const intervalMs =
    call.startedMs + firstIntervalMs <= cadenceEndsMs
      ? firstIntervalMs
      : Math.min(policy.maxIntervalMs, 2 * firstIntervalMs + Math.max(0, call.startedMs - cadenceEndsMs));
  return Math.max(call.endedMs, Math.min(Math.max(call.startedMs + intervalMs, notBeforeMs), deadlineMs));
}

/** A `Retry-After` of delta-seconds: digits alone (RFC 9110 §10.2.3). */
const DELTA_SECONDS = /^\d+$/;

/**
 * When a DSP's `Retry-After` (delta-seconds, or an HTTP date) asks to be called again, epoch ms,
 * for an answer that came at `answeredMs`; `undefined` without one, or for one that is neither.
 */
export function retryAfterDueMs(value: string | undefined, answeredMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (DELTA_SECONDS.test(text)) return answeredMs + Number(text) * 1000;
  const dateMs = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(dateMs) ? undefined : dateMs;
}
