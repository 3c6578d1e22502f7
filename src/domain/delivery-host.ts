import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * The host a burl calls, as the relay groups its calls in flight: the URL's authority as written
 * (host and port, with any user name), its ASCII letters lower-cased; `''` for a URL with no
 * `scheme://`. Migration 13 of the SQLite ledger writes the same with {@link DELIVERY_HOST_SQL}
 * for the URLs that have one `://`, after the scheme.
 */
export function deliveryHost(url: string): string {
  const authority = /^[^:/?#]*:\/\/([^/?#]*)/.exec(url)?.[1] ?? '';
  return authority.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * {@link deliveryHost} in SQL, of the column `url`, for the deliveries queued before it was kept.
 * Migration 13 runs it: never change it.
 */
export const DELIVERY_HOST_SQL = `CASE WHEN instr(url, '://') = 0 THEN '' ELSE lower(substr(
    replace(replace(url, '?', '/'), '#', '/'),
    instr(url, '://') + 3,
    instr(substr(replace(replace(url, '?', '/'), '#', '/'), instr(url, '://') + 3) || '/', '/') - 1
  )) END`;

/**
 * Every way a burl may write `host` (a host name or address, lower case, perhaps with its
 * `:port`), as {@link deliveryHost} keeps it: an IPv6 address in brackets, an international name
 * in Unicode or in punycode (`xn--…`, as DNS errors name it), a name with or without the final
 * dot of a fully qualified one.
 */
export function hostSpellings(host: string): string[] {
  if (isIP(host) === 6) return [`[${host}]`];
  const parts = /^([^:[\]]+)(:\d+)?$/.exec(host);
  // An IPv6 address in brackets, with or without its port, is written one way.
  if (parts === null) return [host];
  const [, name = '', port = ''] = parts;
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  const names = new Set<string>();
  for (const written of [bare, domainToASCII(bare), domainToUnicode(bare)]) {
    if (written === '') continue;
    names.add(`${written}${port}`).add(`${written}.${port}`);
  }
  return [...names];
}
