/** Sending the API's answers: JSON with the request id, and errors in the error envelope. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorCode } from '../lib/error-code.js';
import { ApiError, retryLater } from './api-error.js';

/** The request id: the caller's `X-Request-Id` when sensible, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
}

/** Answers JSON with the request id header. */
export function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  sendJsonText(res, status, JSON.stringify(body), requestId);
}

/** Answers JSON already serialised as `text`, uncached unless `cacheControl` says otherwise. */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string | Buffer,
  requestId: string,
  cacheControl = 'no-store',
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': cacheControl,
    'X-Request-Id': requestId,
  });
  res.end(text);
}

/**
 * SQLite's codes for a database that cannot take a write just now: a full disk, a read-only or
 * failing one, another writer holding it past the busy timeout.
 */
const UNWRITABLE_DATABASE_CODE = /^SQLITE_(FULL|READONLY|IOERR|BUSY|LOCKED)/;

/**
 * The API error `error` is answered with: itself when it is one; 503 `UNAVAILABLE`, to retry,
 * for a database that cannot take a write just now; else 500 `INTERNAL`, its message hidden.
 */
export function apiErrorOf(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const code = errorCode(error) ?? '';
  return UNWRITABLE_DATABASE_CODE.test(code)
    ? retryLater(
        'UNAVAILABLE',
        // A full disk stays full until the operator frees space: retrying shortly is not enough.
        code.startsWith('SQLITE_FULL')
          ? 'Tally cannot write its database: its disk is full (logged as request_failed); retry once space is freed on it'
          : 'Tally cannot write its database just now (logged as request_failed); retry shortly',
      )
    : new ApiError(500, 'INTERNAL', 'internal error; quote the requestId when reporting it');
}

/**
 * Answers the error envelope `{"error": {"code", "message", "requestId"}}` of `error`'s API error
 * ({@link apiErrorOf}); a response already begun is ended instead, its connection destroyed.
 */
export function sendError(res: ServerResponse, error: unknown, requestId: string): void {
  const apiError = apiErrorOf(error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [name, value] of Object.entries(apiError.headers)) res.setHeader(name, value);
  sendJson(
    res,
    apiError.status,
    { error: { code: apiError.code, message: apiError.message, requestId } },
    requestId,
  );
}
