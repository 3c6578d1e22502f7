import { isIP } from 'node:net';

/** The port a URL of each scheme calls when it names none, as written after a host. */
const DEFAULT_PORT_SUFFIXES: Readonly<Record<string, string>> = { http: ':80', https: ':443' };

/**
 * The host a burl calls, as the relay groups its calls in flight: the URL's scheme, host and port
 * (`https://dsp.example`, `http://dsp.example:8080`), without any user name or password, which
 * call the same host (and must not reach metrics or logs through it), nor a scheme's own port;
 * its ASCII letters lower-cased; `''` for a URL with no `scheme://` or no host. Read without a URL
 * parser: it is computed for each delivery queued, as its notice is recorded.
 */
export function deliveryHost(url: string): string {
  const parts = /^([^:/?#]*):\/\/([^/?#]*)/.exec(url);
  if (parts === null) return '';
  const scheme = lowerAscii(parts[1] ?? '');
  const authority = parts[2] ?? '';
  const hostPort = lowerAscii(authority.slice(authority.lastIndexOf('@') + 1));
  if (hostPort === '') return '';
  const defaultPort = DEFAULT_PORT_SUFFIXES[scheme];
  const key =
    defaultPort !== undefined && hostPort.endsWith(defaultPort)
      ? hostPort.slice(0, -defaultPort.length)
      : hostPort;
  return `${scheme}://${key}`;
}

/** `text` with its ASCII letters lower-cased, as SQLite's `lower()` does. */
function lowerAscii(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * The host migration 13 of the SQLite ledger wrote for the deliveries queued before each kept
 * one, of the column `url`: the URL's authority as written (host and port, with any user name),
 * its ASCII letters lower-cased, `''` for a URL with no `scheme://`. Deliveries queued since keep
 * {@link deliveryHost}; one still pending from before keeps its old key until it is settled.
 * Migration 13 runs it: never change it.
 */
export const DELIVERY_HOST_SQL = `CASE WHEN instr(url, '://') = 0 THEN '' ELSE lower(substr(
    replace(replace(url, '?', '/'), '#', '/'),
    instr(url, '://') + 3,
    instr(substr(replace(replace(url, '?', '/'), '#', '/'), instr(url, '://') + 3) || '/', '/') - 1
  )) END`;

/**
 * The host whose burls `tally replay-dead --host` replays, as WHATWG URL parsing reads a URL's
 * host, so that every spelling of one host names it alike: `127.1`, `0x7f.0.0.1` and `127.0.0.1`;
 * `[::ffff:127.0.0.1]` and `[::ffff:7f00:1]`; `bücher.example` and `xn--bcher-kva.example`.
 */
export interface BurlHost {
  /**
   * The host name or address as WHATWG URL parsing writes it (lower case, an international name in
   * punycode, an IPv4 address in dotted decimal, an IPv6 one compressed in brackets), without the
   * final dot of a fully qualified name.
   */
  hostname: string;
  /** The port the burls call, a burl naming none calling its scheme's (443, 80); any when absent. */
  port?: number;
}

/** The port a URL of each scheme calls when it names none. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/** Highest TCP port. */
const MAX_PORT = 65_535;

/**
 * The host `text` names, as a burl would write it (`dsp.example`, `DSP.example.:8443`, `127.1`,
 * `[2001:db8::1]:8080`, an IPv6 address without brackets, a user name before an `@`, which is no
 * part of it), or `undefined` when it names none a URL can: a scheme, a path, a port that is no
 * number or past 65535, an IPv4 address out of range, a character no host holds.
 */
export function parseBurlHost(text: string): BurlHost | undefined {
  const written = text.slice(text.lastIndexOf('@') + 1);
  // An IPv6 address may be given without its brackets, and then with no port.
  const authority = isIP(written) === 6 ? `[${written}]` : written;
  // A space, a path, a query or a fragment would be cut off the host by the parser, not refused.
  if (/[\s/?#\\]/.test(authority)) return undefined;
  const parts = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(authority);
  if (parts === null) return undefined;
  const [, name = '', portText = ''] = parts;
  const port = portText === '' ? undefined : Number(portText);
  if (port !== undefined && port > MAX_PORT) return undefined;
  let hostname: string;
  try {
    hostname = new URL(`http://${name}/`).hostname;
  } catch {
    return undefined;
  }
  return { hostname: withoutFinalDot(hostname), ...(port === undefined ? {} : { port }) };
}

/**
 * Whether `url` (a burl) calls `host`: its host as WHATWG URL parsing reads it (whatever its user
 * name) is `host.hostname`, with or without a final dot, and it calls `host.port` if one is given,
 * a burl naming no port calling its scheme's. A URL that does not parse calls none.
 */
export function callsHost(url: string, host: BurlHost): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (withoutFinalDot(parsed.hostname) !== host.hostname) return false;
  if (host.port === undefined) return true;
  const port = parsed.port === '' ? DEFAULT_PORTS[parsed.protocol] : Number(parsed.port);
  return port === host.port;
}

function withoutFinalDot(hostname: string): string {
  return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
}
