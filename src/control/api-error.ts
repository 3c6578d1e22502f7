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

/**
 * An error the API answers with its status, stable code and a message saying what to fix, and
 * any header HTTP requires with that status (`Allow` with a 405, `WWW-Authenticate` with a 401).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** `cause`: what went wrong, for the log only (a 5xx message tells the caller no more). */
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
