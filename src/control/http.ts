import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './auth.js';
import { cutAt, shown } from '../lib/shown.js';
import { errorCode } from '../lib/error-code.js';
import { jsonErrorMessage } from '../lib/json-error.js';
import type { DuplicateMember } from '../domain/duplicate-members.js';
import { duplicateMember } from '../domain/duplicate-members.js';
import { bodyCoding, gunzipBody } from './body-coding.js';
import { continueIfOwed } from './expect-continue.js';
import { decodeMarkingBadBytes } from '../lib/marked-utf8.js';
import {
  declaredForeignCharset,
  firstNonAsciiOffset,
  readsAsciiOtherwise,
  wideEncoding,
} from './body-encoding.js';

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

/** What a route handler gets. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  requestId: string;
  /** The authenticated caller; set for every route but the public ones. */
  principal: Principal;
}

/** One API route. `path` uses `:name` segments, e.g. `/v1/advertisers/:id`. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Public routes need no API key. */
  public?: boolean;
  /**
   * The route reads no query, so it answers whatever query comes, even one with a malformed
   * %-escape (an unfilled `%%CACHEBUSTER%%` macro): other routes refuse that with 400.
   */
  ignoresQuery?: boolean;
  /**
   * The route reads query parameters (and refuses those it does not know). A route that neither
   * reads nor ignores the query refuses every query parameter: a client sending one expects it to
   * change the answer or the write (`?dryRun=1`), and it would not.
   */
  readsQuery?: boolean;
  /**
   * The media types the route answers in besides JSON, in which every route answers its errors
   * (`text/csv` for reports): an `Accept` accepting none of them nor JSON is refused 406.
   */
  answers?: readonly string[];
  handler(ctx: RequestContext): Promise<void> | void;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  names: string[];
}

/** Matches requests to routes; answers 404 / 405 in the error envelope. */
export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(...routes: Route[]): void {
    for (const route of routes) {
      const names: string[] = [];
      const source = route.path.replace(/:([a-zA-Z]+)/g, (_match, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      this.routes.push({ ...route, pattern: new RegExp(`^${source}$`), names });
    }
  }

  /** Every method some route takes (`HEAD` with each `GET`), in the order the routes were added. */
  methods(): string[] {
    return [
      ...new Set(this.routes.flatMap((route) => (route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]))),
    ];
  }

  /** The route for a request, with its path parameters; throws 404/405 `ApiError`s. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const match = route.pattern.exec(pathname);
      if (match === null) continue;
      allowed.push(...(route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]));
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, index) => (params[name] = decodePathSegment(match[index + 1] ?? '')));
      return { route, params };
    }
    if (allowed.length > 0) {
      const allow = allowed.join(', ');
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}; use ${allow}`, {
        Allow: allow,
      });
    }
    // A trailing `/` is a common slip: `/v1/advertisers/` names the list without it.
    const unslashed = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : undefined;
    if (unslashed !== undefined && this.routes.some((route) => route.pattern.test(unslashed)))
      throw new ApiError(
        404,
        'NOT_FOUND',
        `no such endpoint: ${method} ${pathname}; send it without the trailing /: ${unslashed}`,
      );
    throw new ApiError(404, 'NOT_FOUND', `no such endpoint: ${method} ${pathname}; see /docs for the API`);
  }
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `the path segment ${JSON.stringify(segment)} has a malformed %-escape`,
    );
  }
}

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
 * Answers the error envelope `{"error": {"code", "message", "requestId"}}`; 5xx messages are
 * hidden. A database that cannot take a write just now is 503 `UNAVAILABLE`, to retry, not 500.
 */
export function sendError(res: ServerResponse, error: unknown, requestId: string): void {
  const code = errorCode(error) ?? '';
  const apiError =
    error instanceof ApiError
      ? error
      : UNWRITABLE_DATABASE_CODE.test(code)
        ? new ApiError(
            503,
            'UNAVAILABLE',
            // A full disk stays full until the operator frees space: retrying shortly is not enough.
            code.startsWith('SQLITE_FULL')
              ? 'Tally cannot write its database: its disk is full (logged as request_failed); retry once space is freed on it'
              : 'Tally cannot write its database just now (logged as request_failed); retry shortly',
            { 'Retry-After': '1' },
          )
        : new ApiError(500, 'INTERNAL', 'internal error; quote the requestId when reporting it');
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

/** Reads a JSON request body of at most `maxBytes`; throws 400/413/415 `ApiError`s. */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return parseJsonBody(await readJsonText(req, maxBytes));
}

/**
 * Deepest nesting of objects and arrays a request body may have. No field of the API needs a
 * tenth of it, and code that walks a value recursively (`JSON.stringify`, for one) overflows the
 * stack on a body nested some thousands deep, which fits in a few kilobytes.
 */
export const MAX_BODY_DEPTH = 64;

/**
 * Parses a request body read as text; throws a 400 `ApiError` saying where it is not JSON, that it
 * nests deeper than `MAX_BODY_DEPTH`, or which member an object of it names twice.
 */
export function parseJsonBody(text: string): unknown {
  const parsed = parseJsonBodyWithDuplicates(text);
  const duplicate = duplicateMember(text);
  if (duplicate !== undefined) throw duplicateMemberError('the body', duplicate);
  return parsed;
}

/**
 * The refusal of JSON (`what`: "the body", "this win"…) that names a member twice in one object:
 * 400 `INVALID_JSON`, saying where.
 */
export function duplicateMemberError(what: string, duplicate: DuplicateMember): ApiError {
  return new ApiError(
    400,
    'INVALID_JSON',
    `${what} names ${shown(duplicate.name)} twice in one object (at ${cutAt(duplicate.path, MAX_PATH_CHARS)}): ` +
      'JSON readers differ on which of the two counts, so send each member once',
  );
}

/**
 * {@link parseJsonBody} but for members named twice, which the caller looks for itself
 * (`duplicateMembers`): `POST /v1/wins` refuses only the wins that hold one. With `parts`
 * `'caller'`, strings holding an unpaired surrogate ({@link unpairedSurrogate}) and nesting past
 * `MAX_BODY_DEPTH` ({@link nestsDeeperThan}) are left to the caller too, for the same reason.
 */
export function parseJsonBodyWithDuplicates(text: string, parts: 'refused' | 'caller' = 'refused'): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (error) {
    if (text.trim() === '')
      throw new ApiError(
        400,
        'INVALID_JSON',
        'the body is empty: send a JSON object (Content-Type: application/json)',
      );
    throw new ApiError(400, 'INVALID_JSON', `the body is not valid JSON: ${jsonErrorMessage(error)}`);
  }
  if (parts === 'caller') return parsed;
  const problem = bodyProblem(parsed, MAX_BODY_DEPTH, true);
  if (problem === 'too deep') throw tooDeepError('the body');
  if (problem !== undefined) throw unpairedSurrogateError('the body', problem);
  return parsed;
}

/**
 * The refusal of JSON (`what`: "the body", "this win"…) nesting objects and arrays past
 * {@link MAX_BODY_DEPTH} levels counted from the body's top (`from`, said after the count, tells
 * how where `what` is not the body): 400 `BODY_TOO_DEEP`.
 */
export function tooDeepError(what: string, from = ''): ApiError {
  return new ApiError(
    400,
    'BODY_TOO_DEEP',
    `${what} nests objects and arrays more than ${MAX_BODY_DEPTH} levels deep${from}; no field of this API needs that many`,
  );
}

/** Whether `value` nests objects and arrays more than `maxDepth` levels (itself one), walked without recursion. */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  return bodyProblem(value, maxDepth, false) === 'too deep';
}

/**
 * The refusal of JSON (`what`: "the body", "this win"…) holding `text`, a string with an unpaired
 * surrogate escape (as {@link unpairedSurrogate} gives it), shown as JSON escapes it, cut to 40
 * characters: 400 `INVALID_JSON`.
 */
export function unpairedSurrogateError(what: string, text: string): ApiError {
  return new ApiError(
    400,
    'INVALID_JSON',
    `${what} holds a string with an unpaired surrogate escape (${escapedSurrogates(text)}), which is not text ` +
      'and would be stored as U+FFFD, making different ids one: send valid Unicode',
  );
}

/**
 * The first string (value or key) of a parsed value, nested at most {@link MAX_BODY_DEPTH} levels,
 * that holds an unpaired surrogate; undefined when none does.
 */
export function unpairedSurrogate(value: unknown): string | undefined {
  const problem = bodyProblem(value, Infinity, true);
  return problem === 'too deep' ? undefined : problem;
}

/** Most characters of a member's path an error message repeats. */
const MAX_PATH_CHARS = 200;

/** A UTF-16 surrogate not part of a pair (`\uD800` alone in JSON). */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * What is wrong with a parsed body, walked without recursion: `'too deep'` when it nests objects
 * and arrays more than `maxDepth` levels, else, when `surrogates` are looked for, the first string
 * (value or key) holding a lone surrogate (which is never `'too deep'`); undefined when nothing is.
 */
function bodyProblem(value: unknown, maxDepth: number, surrogates: boolean): string | undefined {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const next = values.pop();
    const depth = (depths.pop() ?? 0) + 1;
    if (surrogates && typeof next === 'string' && LONE_SURROGATE.test(next)) return next;
    if (typeof next !== 'object' || next === null) continue;
    if (depth > maxDepth) return 'too deep';
    if (surrogates && !Array.isArray(next)) {
      const key = Object.keys(next).find((name) => LONE_SURROGATE.test(name));
      if (key !== undefined) return key;
    }
    for (const child of Array.isArray(next) ? next : Object.values(next)) {
      values.push(child);
      depths.push(depth);
    }
  }
  return undefined;
}

/** `text` as a JSON string, cut to 40 characters (`JSON.stringify` escapes lone surrogates: `"x\ud800"`). */
function escapedSurrogates(text: string): string {
  return JSON.stringify(text.length > 40 ? `${cutAt(text, 40)}…` : text);
}

/**
 * Reads a JSON request body of at most `maxBytes` as text, unparsed; throws 400/413/415
 * `ApiError`s. `tooLargeFix` is what the 413's message tells the caller to do. A gzip body (see
 * `bodyCoding`) is uncompressed first, the limit holding for it uncompressed. The body must be
 * UTF-8: a declared charset other than UTF-8 is refused (415) where it would read otherwise (UTF-16,
 * UTF-32, UTF-7, HZ and ISO-2022 always, others once the body holds a byte beyond ASCII), and so is
 * a body that is not UTF-8 (400), one in UTF-16 or UTF-32 told apart as such; with `badBytes`
 * `'marked'`, one that is UTF-8 but for some bytes is read with those bytes marked
 * (`decodeMarkingBadBytes`), for the caller to refuse the part holding them.
 */
export async function readJsonText(
  req: IncomingMessage,
  maxBytes: number,
  tooLargeFix = 'send a smaller one',
  badBytes: 'refused' | 'marked' = 'refused',
): Promise<string> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/([^\s;/]+\+)?json\s*(;|$)/i.test(type)) {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'send the body as JSON with Content-Type: application/json',
    );
  }
  const charset = declaredForeignCharset(type);
  if (charset !== undefined && readsAsciiOtherwise(charset)) throw foreignCharsetError(charset);
  const coding = bodyCoding(req);
  // node:http reads a body whose last transfer coding is chunked as chunked, and hands it on
  // still coded with any coding before (`gzip, chunked`): read as it came, it is not the JSON sent.
  const transferCoding = req.headers['transfer-encoding']
    ?.split(',')
    .map((name) => name.trim())
    .find((name) => name !== '' && name.toLowerCase() !== 'chunked');
  if (transferCoding !== undefined) {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `a body with Transfer-Encoding ${transferCoding} cannot be read: send it uncoded, with Content-Length or Transfer-Encoding: chunked alone`,
    );
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw tooLarge(maxBytes, tooLargeFix);
  continueIfOwed(req);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes, tooLargeFix);
    chunks.push(chunk);
  }
  const bytes =
    coding === 'gzip'
      ? await gunzipBody(Buffer.concat(chunks), maxBytes, tooLargeFix)
      : Buffer.concat(chunks);
  if (charset !== undefined) {
    const nonAscii = firstNonAsciiOffset(bytes);
    if (nonAscii !== -1) throw foreignCharsetError(charset, bytes, nonAscii);
  }
  const wide = wideEncoding(bytes);
  if (wide !== undefined) {
    throw new ApiError(
      400,
      'INVALID_JSON',
      `the body looks ${wide.encoding} encoded (${wide.sign}), which Tally does not read: send JSON encoded in UTF-8`,
    );
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    if (badBytes === 'marked') return decodeMarkingBadBytes(bytes);
    throw notUtf8Error('the body');
  }
}

/**
 * The refusal of JSON (`what`: "the body", "this win"…) that is not UTF-8: 400 `INVALID_JSON`,
 * naming the byte and the text before it in its string where they are known.
 */
export function notUtf8Error(what: string, found?: { byte: number; before: string }): ApiError {
  const where =
    found === undefined
      ? ''
      : ` (0x${found.byte.toString(16).toUpperCase()}${found.before === '' ? ' at the start of a string' : ` after ${JSON.stringify(found.before.length > 40 ? `…${found.before.slice(-40)}` : found.before)}`})`;
  return new ApiError(
    400,
    'INVALID_JSON',
    `${what} is not valid UTF-8${where} (bytes that are no character would be stored as U+FFFD, ` +
      'making different ids one): send JSON encoded in UTF-8',
  );
}

/**
 * Decodes UTF-8, throwing on bytes that are not (rather than replacing them with U+FFFD), and
 * dropping a byte order mark that begins the body, which JSON readers may ignore (RFC 8259 §8.1)
 * and Windows tools write.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The 415 for a body declared in `charset`, not UTF-8: outright for UTF-16 or UTF-32, else for the
 * byte of `bytes` at `offset`, the first beyond ASCII, which reads otherwise in it than in UTF-8.
 */
function foreignCharsetError(charset: string, bytes?: Uint8Array, offset = 0): ApiError {
  const why =
    bytes === undefined
      ? ', which Tally does not read'
      : ` but holds bytes beyond ASCII (0x${(bytes[offset] ?? 0).toString(16).toUpperCase()} at byte ${offset}), ` +
        'which read otherwise in it than in UTF-8, the one charset Tally reads';
  return new ApiError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `the body is declared charset=${shown(charset)}${why}: send it encoded in UTF-8, ` +
      'with Content-Type: application/json; charset=utf-8 (or no charset)',
  );
}

function tooLarge(maxBytes: number, fix: string): ApiError {
  return new ApiError(
    413,
    'BODY_TOO_LARGE',
    `the body is larger than ${maxBytes} bytes, the limit for this request: ${fix}`,
  );
}
