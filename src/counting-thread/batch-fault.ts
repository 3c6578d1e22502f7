import { errorCode } from '../lib/error-code.js';

/**
 * True for an error that one batch's events can cause (a constraint or type a row refused, a value
 * SQLite cannot bind, a batch that cannot be read), rather than the state of the database (locked,
 * full, failing), which would fail any batch alike.
 */
export function isBatchFault(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined) return /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
  return error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError;
}
