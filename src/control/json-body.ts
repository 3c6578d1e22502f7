/**
 * Reading and checking JSON request bodies: media type, transfer and content coding, size, charset
 * and UTF-8, then the JSON itself (syntax, nesting depth, members named twice, unpaired surrogates).
 */
import type { IncomingMessage } from 'node:http';
import { cutAt, shown } from '../lib/shown.js';
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
import { ApiError } from './api-error.js';

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
  // node:http keeps the first of two Content-Type headers and drops the other unseen; which one
  // says how to read the body is not for Tally to guess (a proxy may have read the last).
  const types = req.headersDistinct['content-type'] ?? [];
  if (types.length > 1) {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `the request has ${types.length} Content-Type headers: send one, Content-Type: application/json`,
    );
  }
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
