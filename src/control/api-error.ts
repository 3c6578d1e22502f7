/** The API's errors: the stable codes it answers with, and the error that carries one. */
/** Stable error codes of the API. */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'BODY_TOO_LARGE'
  | 'BODY_TOO_DEEP'
  | 'REPORT_TOO_LARGE'
  | 'MIXED_CURRENCIES'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'NOT_ACCEPTABLE'
  | 'CONFLICT'
  | 'MAIL_NOT_CONFIGURED'
  | 'MAIL_FAILED'
  | 'MALFORMED_REQUEST'
  | 'EXPECTATION_FAILED'
  | 'UNAVAILABLE'
  | 'STARTING'
  | 'INTERNAL';

/** What an {@link ApiError} carries besides its answer. */
export interface ApiErrorOptions extends ErrorOptions {
  /** Whether the call is refused on purpose as Tally is busy: see {@link ApiError.backPressure}. */
  backPressure?: boolean;
}

/**
 * An error the API answers with its status, stable code and a message saying what to fix, and
 * any header HTTP requires with that status (`Allow` with a 405, `WWW-Authenticate` with a 401).
 */
export class ApiError extends Error {
  /**
   * True for a call refused on purpose because Tally is busy (back-pressure, {@link busyRefusal}):
   * nothing failed, and the caller is to send it again after `Retry-After`, so it is logged as a
   * refusal (`request_refused`, at warn), not as a failure an operator must act on.
   */
  readonly backPressure: boolean;

  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /**
     * `cause`: what went wrong, for the log only (a 5xx message tells the caller no more);
     * `backPressure`: a refusal as Tally is busy ({@link busyRefusal} sets it).
     */
    options: ApiErrorOptions = {},
  ) {
    super(message, options);
    this.backPressure = options.backPressure === true;
  }
}

/** What {@link retryLater} is given besides its code and message. */
export interface RetryLaterOptions extends ApiErrorOptions {
  /** Headers besides `Retry-After` (`Connection: close`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * A 503 the caller is to send again, with `Retry-After: 1`, as every 503 Tally answers has:
 * `code` `UNAVAILABLE`, or `STARTING` for a request that came while Tally starts, and `message`
 * saying why.
 */
export function retryLater(
  code: 'UNAVAILABLE' | 'STARTING',
  message: string,
  options: RetryLaterOptions = {},
): ApiError {
  const { headers = {}, ...errorOptions } = options;
  return new ApiError(503, code, message, { 'Retry-After': '1', ...headers }, errorOptions);
}

/**
 * A call refused on purpose because Tally is busy, as its bounds on the work waiting or the bytes
 * being read say (back-pressure): a {@link retryLater} with any `headers` besides
 * (`Connection: close`), `message` saying what is busy; marked {@link ApiError.backPressure}.
 */
export function busyRefusal(message: string, headers: Readonly<Record<string, string>> = {}): ApiError {
  return retryLater('UNAVAILABLE', message, { headers, backPressure: true });
}
