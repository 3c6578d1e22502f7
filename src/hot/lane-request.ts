import type { TrackerKind } from '../domain/tracker-hit.js';
import { isValidHost } from '../lib/host-header.js';
import { encodeRawBytes } from './raw-target.js';
import { withPrefixDecoded } from './target-prefix.js';

/** A request the notice lane serves itself, read from its head: a notice or a tracker hit. */
export interface LaneRequest {
  method: 'GET' | 'HEAD';
  /** What it is: a notice (`/n/…`), or a tracker hit (`/imptr`, `/clktr`), by its kind. */
  endpoint: 'notice' | TrackerKind;
  /**
   * The request target as sent, starting with `/n/`, or `/imptr` or `/clktr` then the end or `?`,
   * once the escapes of unreserved characters in that prefix are decoded (see `withPrefixDecoded`);
   * a raw byte of 0x80 or above in it written as its percent-escape (see `encodeRawBytes`), as
   * node:http would have it had it been sent so.
   */
  target: string;
  /** Header names and values as sent, flattened like node:http's `rawHeaders` (values trimmed). */
  rawHeaders: string[];
  /** Whether the connection stays open after the answer. */
  keepAlive: boolean;
}

/** The prefix of exchange notices. */
export const NOTICE_PREFIX = '/n/';
/** The paths of tracker hits, served with their query, by kind. */
export const TRACKER_PATHS: Readonly<Record<TrackerKind, string>> = { impression: '/imptr', click: '/clktr' };

/** Request target: `/n/` and visible ASCII only (the common notice: one test). */
const NOTICE_TARGET = /^\/n\/[\x21-\x7e]*$/;
/**
 * Request target: `/n/`, or a tracker path alone or followed by `?`; then visible ASCII and raw
 * bytes of 0x80 and above (read as their `%XX`).
 */
const LANE_TARGET = /^\/(?:n\/|(?:imptr|clktr)(?=\?|$))[\x21-\x7e\x80-\xff]*$/;
/**
 * A header line: a token name, a colon, a value of visible characters, spaces and tabs. The
 * value's trailing spaces and tabs are cut by `trimmedValue`: matching them here lazily made the
 * engine try the end of the line at every character of a 100-character User-Agent. The value
 * starts at its first visible character: were it free to start on a space, every split of the
 * white space before it would be tried again when the line turns out malformed (a control
 * character at its end), work growing with the square of the line's length.
 */
const HEADER_LINE =
  /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*((?:[\x21-\x7e\x80-\xff][\t\x20-\x7e\x80-\xff]*)?)$/;
/**
 * A `Connection` (or `Proxy-Connection`) value whose options every llhttp reads alike: tokens
 * separated by commas, spaces only after a comma, nothing after the last token. llhttp's reading
 * of whitespace after an option changed between its versions (before 9.4.2, e.g. the 9.3.1 of Node 20,
 * `close` followed by a tab kept the connection alive), so any other spelling goes to node:http,
 * which decides as the llhttp it runs.
 */
const PLAIN_CONNECTION_VALUE = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:, *[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*)?$/;

/**
 * Reads a request head (the request line and header lines, without the blank line that ends
 * them, decoded as latin1) when it is one the notice lane serves: `GET` or `HEAD` of `/n/…`,
 * `/imptr` or `/clktr` (with their query) in HTTP/1.1 with one `Host`, or HTTP/1.0; every line
 * well formed; no body (no `Content-Length` or `Transfer-Encoding`); no `Upgrade` or `Expect`;
 * `Connection` and `Proxy-Connection` (which llhttp reads alike) in their plain spelling. For
 * anything else it answers `undefined` and the connection goes to node:http, which answers
 * whatever it is, errors included; so this reader only has to be strict, never complete.
 */
export function readLaneRequest(head: string): LaneRequest | undefined {
  const lineEnd = head.indexOf('\r\n');
  const requestLine = lineEnd === -1 ? head : head.slice(0, lineEnd);
  const firstSpace = requestLine.indexOf(' ');
  const secondSpace = requestLine.indexOf(' ', firstSpace + 1);
  if (firstSpace === -1 || secondSpace === -1) return undefined;
  const method = requestLine.slice(0, firstSpace);
  const sentTarget = requestLine.slice(firstSpace + 1, secondSpace);
  const version = requestLine.slice(secondSpace + 1);
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return undefined;
  // The common notice costs one test; only a target that fails it is tried as a tracker hit, for
  // an escaped prefix or for raw bytes.
  let target = sentTarget;
  let endpoint: LaneRequest['endpoint'] = 'notice';
  if (!NOTICE_TARGET.test(sentTarget)) {
    const decoded = withPrefixDecoded(sentTarget);
    if (!LANE_TARGET.test(decoded)) return undefined;
    target = encodeRawBytes(decoded);
    if (!target.startsWith(NOTICE_PREFIX))
      endpoint = target.startsWith(TRACKER_PATHS.impression) ? 'impression' : 'click';
  }

  const rawHeaders: string[] = [];
  let hosts = 0;
  let close = false;
  let keepAlive = false;
  for (let start = lineEnd + 2; lineEnd !== -1 && start <= head.length;) {
    const end = head.indexOf('\r\n', start);
    const line = end === -1 ? head.slice(start) : head.slice(start, end);
    const match = HEADER_LINE.exec(line);
    if (match === null) return undefined;
    const name = match[1] ?? '';
    const value = trimmedValue(match[2] ?? '');
    switch (name.toLowerCase()) {
      // Several (in HTTP/1.0 too), or one that is no host, the server answers 400 (`hostHeaderProblem`).
      case 'host':
        hosts++;
        if (hosts > 1 || !isValidHost(value)) return undefined;
        break;
      case 'content-length':
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return undefined;
      // llhttp reads Proxy-Connection as it reads Connection.
      case 'connection':
      case 'proxy-connection':
        if (!PLAIN_CONNECTION_VALUE.test(match[2] ?? '')) return undefined;
        for (const option of value.toLowerCase().split(',')) {
          const token = option.trim();
          if (token === 'close') close = true;
          else if (token === 'keep-alive') keepAlive = true;
          else if (token === 'upgrade') return undefined;
        }
        break;
    }
    rawHeaders.push(name, value);
    if (end === -1) break;
    start = end + 2;
  }
  if (version === 'HTTP/1.1' && hosts !== 1) return undefined;
  return {
    method,
    endpoint,
    target,
    rawHeaders,
    // As llhttp decides: HTTP/1.1 stays open unless `close`, HTTP/1.0 only with `keep-alive`.
    keepAlive: version === 'HTTP/1.1' ? !close : keepAlive,
  };
}

/** `value` without its trailing spaces and tabs (and nothing else: `trimEnd` would cut U+00A0 too). */
function trimmedValue(value: string): string {
  let end = value.length;
  while (end > 0) {
    const code = value.charCodeAt(end - 1);
    if (code !== 0x20 && code !== 0x09) break;
    end--;
  }
  return end === value.length ? value : value.slice(0, end);
}
