import type { ServerResponse } from 'node:http';

/** The classic transparent 1×1 GIF, 43 bytes. */
export const PIXEL_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
  'base64',
);

const NO_CACHE = {
  'Cache-Control': 'no-store, no-cache, must-revalidate',
  Pragma: 'no-cache',
  Expires: '0',
};

const GIF_HEADERS = { ...NO_CACHE, 'Content-Type': 'image/gif', 'Content-Length': String(PIXEL_GIF.length) };

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

/** Answers a small body of the given type, uncached. */
export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
): void {
  const buffer = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    ...NO_CACHE,
    'Content-Type': contentType,
    'Content-Length': String(buffer.length),
  });
  res.end(buffer);
}

/** Answers 503 when the commit queue is full or the ledger failed: the client should retry. */
export function sendUnavailable(res: ServerResponse): void {
  sendBody(res, 503, 'text/plain; charset=utf-8', 'overloaded: retry later\n');
}

/** True for an absolute http(s) URL that is safe to put in a Location header. */
export function isSafeRedirectTarget(url: string): boolean {
  if (hasControlCharacter(url)) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    return false;
  }
}

function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
