import { isIP } from 'node:net';
import { BROWSER_BLOCKED_PORTS } from '../lib/browser-blocked-ports.js';

/**
 * Where notices reach Tally unless `publicUrl` says: the host it listens on, when that is one
 * address or name; 127.0.0.1 when it listens on every interface (`0.0.0.0`, `::`).
 */
export function defaultPublicUrl(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '::') return `http://127.0.0.1:${port}`;
  return isIP(host) === 6 ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/**
 * What makes `text` no base for notice URLs, or `undefined`: Tally appends `/n/<token>` to it, so
 * it must be an http(s) URL with a host, and no user name, query or fragment, which would take the
 * path Tally appends out of the path, nor white space or control characters, which a notice URL
 * cannot carry.
 */
export function problemOfPublicUrl(text: string): string | undefined {
  if (!/^https?:\/\/[^/?#]/i.test(text)) return 'must begin http:// or https:// and a host';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL (a host, and a port from 1 to 65535 if any)';
  }
  // The URL parser drops these (a stray space or line break), but notice URLs take the text as given.
  if (/[\s\p{Cc}]/u.test(text)) return 'holds white space or a control character';
  if (url.port === '0') return 'names port 0, which no notice can reach (a port is 1 to 65535)';
  if (BROWSER_BLOCKED_PORTS.has(Number(url.port)))
    return `names port ${url.port}, which browsers refuse to fetch from (the Fetch standard's blocked ports), so no notice would reach it`;
  if (url.username !== '' || url.password !== '') return 'must hold no user name or password';
  if (text.includes('?')) return 'must have no query (?…)';
  if (text.includes('#')) return 'must have no fragment (#…)';
  // Notice URLs take the text as given, into markup: `]]>` would end a VAST CDATA section, a `"`
  // an attribute. RFC 3986 allows a host and a path these, and %XX escapes; the URL parser ends
  // the host at a `\` as at a `/`, and takes in a host characters no host name holds.
  const [, host = '', path = ''] = /^https?:\/\/([^/\\]*)(.*)$/is.exec(text) ?? [];
  const inHost = /[^A-Za-z0-9\-._~!$&'()*+,;=:@%[\]]/u.exec(host);
  if (inHost !== null)
    return /^[\x21-\x7e]$/.test(inHost[0])
      ? `holds ${JSON.stringify(inHost[0])} in its host, which no host name holds`
      : `holds ${JSON.stringify(inHost[0])} in its host, which URLs write in ASCII: write the host as ${url.hostname}`;
  const encoded = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/u.exec(path);
  if (encoded !== null)
    return `holds ${JSON.stringify(encoded[0])} in its path, which URLs percent-encode (write it as %XX)`;
  if (/%(?![0-9A-Fa-f]{2})/.test(path))
    return 'holds a % in its path that begins no %XX escape (write % as %25)';
  return undefined;
}
