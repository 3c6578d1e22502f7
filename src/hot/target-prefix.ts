/** A percent-escape: `%` and two hex digits. */
const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})/g;
/** An unreserved character of RFC 3986 (§2.3): a letter, a digit, `-`, `.`, `_` or `~`. */
const UNRESERVED = /^[A-Za-z0-9._~-]$/;
const SLASH = 0x2f;

/**
 * `target` (a request target in origin form) with the percent-escapes of unreserved characters in
 * its first path segment written as those characters: `/%6E/<token>` is `/n/<token>`, `/%69mptr?…`
 * is `/imptr?…`. RFC 3986 §6.2.2.2 makes the two URLs the same, as a notice's token written with
 * escapes is its token (see `noticeTarget`), so a notice or hit sent by an encoder that escapes
 * more than it must is served and recorded, not answered 404. An escape of any other character
 * (`/n%2F…`: a `/` escaped is data, not a separator) stays as it was sent, and so does the rest of
 * the target; `target` itself when it has none to decode, or is not in origin form.
 */
export function withPrefixDecoded(target: string): string {
  if (target.charCodeAt(0) !== SLASH) return target;
  let end = 1;
  while (end < target.length && target[end] !== '/' && target[end] !== '?') end++;
  const segment = target.slice(1, end);
  if (!segment.includes('%')) return target;
  const decoded = segment.replace(PERCENT_ESCAPE, (escape: string, hex: string) => {
    const character = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(character) ? character : escape;
  });
  return `/${decoded}${target.slice(end)}`;
}
