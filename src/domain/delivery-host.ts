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
