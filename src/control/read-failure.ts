import { busyRefusal, retryLater } from './api-error.js';
import type { ApiError } from './api-error.js';
import { ReadAbandonedError, ReportsBusyError } from './report-thread/report-thread.js';

/**
 * The answer to a read of the report thread (a report, a page of billing records) that rejected
 * with `error`, as the reports and the billing records routes give it: none when every caller
 * asking it went away before it began ({@link ReadAbandonedError}: nobody is left to answer, and
 * nothing failed); a {@link busyRefusal} saying how many wait when as many reads wait already
 * ({@link ReportsBusyError}); else 503 `UNAVAILABLE` with `Retry-After: 1` saying
 * `failedMessage`, with `error` as its cause for the log: a failure worth retrying.
 */
export function readFailureAnswer(error: unknown, failedMessage: string): ApiError | undefined {
  if (error instanceof ReadAbandonedError) return undefined;
  if (error instanceof ReportsBusyError) return busyRefusal(error.message);
  return retryLater('UNAVAILABLE', failedMessage, { cause: error });
}
