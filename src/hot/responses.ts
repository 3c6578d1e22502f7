import type { ServerResponse } from 'node:http';
import { countRefusedMethod } from '../lib/method-refusals.js';
import type { RefusedMethodTarget } from '../lib/method-refusals.js';
import type { CounterSink } from '../lib/metrics.js';

/** The classic transparent 1×1 GIF, 43 bytes. */
export const PIXEL_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
  'base64',
);

/** Headers that keep every notice answer out of caches. */
export const NO_CACHE = {
  'Cache-Control': 'no-store, no-cache, must-revalidate',
  Pragma: 'no-cache',
  Expires: '0',
};

/** Headers of the GIF answer. */
export const GIF_HEADERS = {
  ...NO_CACHE,
  'Content-Type': 'image/gif',
  'Content-Length': String(PIXEL_GIF.length),
};

/** Answers the 1×1 GIF (headers only for HEAD). */
export function sendPixel(res: ServerResponse, head: boolean): void {
  res.writeHead(200, GIF_HEADERS);
  res.end(head ? undefined : PIXEL_GIF);
}

/** Answers 204 No Content, for beacons. */
export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, NO_CACHE);
  res.end();
}

/** Answers 302 to `location`, which the caller has checked is an http(s) URL without control characters. */
export function sendRedirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { ...NO_CACHE, Location: location, 'Content-Length': '0' });
  res.end();
}

/** Answers a small body of the given type, uncached, with any other `headers`. */
export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Readonly<Record<string, string>> = {},
): void {
  const buffer = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    ...NO_CACHE,
    ...headers,
    'Content-Type': contentType,
    'Content-Length': String(buffer.length),
  });
  res.end(buffer);
}

/**
 * The methods notices and tracker hits come by: `GET` (pixels, scripts, players, servers), `HEAD`
 * (recorded as invalid traffic) and `POST` (beacons). Any other (a CORS preflight's `OPTIONS`, a
 * `PUT`) is no impression and is not recorded.
 */
export const HIT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST']);

/**
 * Answers 405 and returns true when `method` is not one a notice or tracker hit comes by, counting
 * it by `target` in `counters` (nothing else holds it); the caller then records nothing.
 */
export function refusedHitMethod(
  res: ServerResponse,
  method: string | undefined,
  counters: CounterSink,
  target: Exclude<RefusedMethodTarget, 'connect'>,
): boolean {
  if (HIT_METHODS.has(method ?? 'GET')) return false;
  countRefusedMethod(counters, target);
  res.setHeader('Allow', 'GET, HEAD, POST');
  sendBody(res, 405, 'text/plain; charset=utf-8', 'only GET, HEAD and POST are notices\n');
  return true;
}

/** The 503 answer's body and its type. */
export const UNAVAILABLE_TEXT = 'unavailable: retry later\n';
export const UNAVAILABLE_TYPE = 'text/plain; charset=utf-8';

/** Answers 503 when the commit queue is full or the ledger failed: the client should retry. */
export function sendUnavailable(res: ServerResponse): void {
  sendBody(res, 503, UNAVAILABLE_TYPE, UNAVAILABLE_TEXT, RETRY_AFTER);
}

/** How soon a notice answered 503 may be sent again: the next batch commits within a second. */
export const RETRY_AFTER: Readonly<Record<string, string>> = Object.freeze({ 'Retry-After': '1' });

/**
 * The headers a body answer's status brings: {@link RETRY_AFTER} for a 503 (a prefetched click
 * declined included, which a browser then does not prefetch again before it), as every 503 Tally
 * sends has it; none for another status.
 */
export function statusHeaders(status: number): Readonly<Record<string, string>> {
  return status === 503 ? RETRY_AFTER : {};
}

/**
 * The Location header value redirecting to an absolute http(s) URL: the URL as the WHATWG parser
 * writes it (a space percent-encoded, as the relay calls it); `undefined` for one that is not
 * printable ASCII (a header value with other characters is refused by node:http, or mangled), not
 * an absolute http(s) URL, or holding a user name or password (which would be shown to every device
 * sent there, and which browsers refuse to load a subresource with).
 */
export function redirectTarget(url: string): string | undefined {
  if (!isPrintableAscii(url)) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.username !== '' || parsed.password !== '') return undefined;
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

function isPrintableAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}
