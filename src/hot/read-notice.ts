import type { IncomingMessage } from 'node:http';
import type { NoticeRequest } from '../domain/notice-request.js';

/** The headers the counting rules read, by the length of their name (a cheap first test). */
const RULE_HEADERS: ReadonlyMap<number, readonly string[]> = new Map([
  [5, ['x-moz']],
  [7, ['purpose']],
  [9, ['x-purpose']],
  [10, ['user-agent']],
  [11, ['x-device-ip', 'sec-purpose']],
  [15, ['x-forwarded-for']],
  [19, ['x-device-user-agent']],
]);

/**
 * Reads a notice's facts off a node:http request (see `ruleHeaders` for its headers).
 */
export function readNoticeRequest(
  req: IncomingMessage,
  token: string,
  query: string,
  receivedMs: number,
): NoticeRequest {
  return {
    token,
    query,
    method: req.method ?? 'GET',
    headers: ruleHeaders(req.rawHeaders),
    remoteAddress: req.socket.remoteAddress ?? '',
    receivedMs,
  };
}

/**
 * The headers the rules read, from raw headers (names and values flattened as sent), with
 * node:http's semantics for repeats: the first `User-Agent` wins, other repeated headers are
 * joined with ', '; but a repeated `X-Device-User-Agent` is read as empty. Which of its values is
 * the device's cannot be told (an agent may hold ', ' itself), so it names none, and the device's
 * agent is the caller's `User-Agent` (see `readDevice`), as a repeated `X-Device-IP`, joined into
 * no address, gives way to `X-Forwarded-For` or the peer.
 */
export function ruleHeaders(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const rawName = raw[index] ?? '';
    const candidates = RULE_HEADERS.get(rawName.length);
    if (candidates === undefined) continue;
    const name = rawName.toLowerCase();
    if (!candidates.includes(name)) continue;
    const value = raw[index + 1] ?? '';
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (name === 'x-device-user-agent') headers[name] = '';
    else if (name !== 'user-agent') headers[name] = `${previous}, ${value}`;
  }
  return headers;
}
