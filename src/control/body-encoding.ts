/**
 * How a JSON body's bytes are encoded, as far as Tally reads it: the charset its Content-Type
 * declares, and the UTF-16 or UTF-32 its first bytes give away. Tally reads UTF-8 alone (RFC 8259
 * §8.1); a body in any other encoding would be read as something else than was sent.
 */

/** Labels of UTF-8 a Content-Type may declare (case aside). */
const UTF8_LABELS = new Set(['utf-8', 'utf8']);

/**
 * Labels of encodings in which no text reads as its ASCII bytes (every character takes two or four
 * bytes): UTF-16, UTF-32 and their older names.
 */
const WIDE_LABEL = /^(utf-?(16|32)(le|be)?|ucs-?[24]|iso-10646-ucs-[24]|csunicode|unicode(fffe|feff)?)$/i;

/**
 * Labels of 7-bit encodings that write text beyond ASCII with ASCII bytes, shifting into it with
 * `+` (UTF-7), `~{` (HZ) or an escape sequence (ISO-2022): a body in one is all ASCII bytes yet
 * does not read as sent (UTF-7's `a+-b` is `a+b`).
 */
const SHIFTING_LABEL =
  /^(utf-?7|csutf7|unicode-1-1-utf-7|csunicode11utf7|iso-2022-(jp|kr|cn)(-[a-z0-9-]+)?|csiso2022(jp2?|kr)|hz-gb-2312)$/i;

/** One `; name=value` parameter of a media type, its value a token or a quoted string. */
const PARAMETER = /;\s*([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;

/**
 * The first charset `contentType` declares that is not UTF-8, as sent (unquoted); `undefined` when
 * it declares UTF-8 (`utf-8` or `utf8` in any case, quoted or not), an empty one, or none.
 */
export function declaredForeignCharset(contentType: string): string | undefined {
  for (const [, name, value] of contentType.matchAll(PARAMETER)) {
    if (name?.toLowerCase() !== 'charset' || value === undefined) continue;
    const charset = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value.trim();
    if (charset !== '' && !UTF8_LABELS.has(charset.toLowerCase())) return charset;
  }
  return undefined;
}

/**
 * Whether `charset` is one in which ASCII bytes do not read as ASCII text (UTF-16, UTF-32, UTF-7,
 * HZ, ISO-2022): a body so declared is never read as sent. In other charsets (`us-ascii`,
 * `ISO-8859-1`, `windows-1252`…) ASCII reads as in UTF-8, and only bytes beyond it read differently.
 */
export function readsAsciiOtherwise(charset: string): boolean {
  return WIDE_LABEL.test(charset) || SHIFTING_LABEL.test(charset);
}

/** The offset of the first byte of `bytes` beyond ASCII (0x80 and above); -1 when all are ASCII. */
export function firstNonAsciiOffset(bytes: Uint8Array): number {
  return bytes.findIndex((byte) => byte >= 0x80);
}

/** A UTF-16 or UTF-32 encoding a body's first bytes give away, and the bytes that did. */
interface WideEncoding {
  /** `UTF-16LE`, `UTF-16BE`, `UTF-32LE` or `UTF-32BE`. */
  encoding: string;
  /** What gave it away, as a message says it: `the byte order mark FF FE`… */
  sign: string;
}

/** Byte order marks of UTF-16 and UTF-32, the longer first (FF FE 00 00 begins with FF FE). */
const WIDE_BYTE_ORDER_MARKS: readonly [string, readonly number[]][] = [
  ['UTF-32BE', [0x00, 0x00, 0xfe, 0xff]],
  ['UTF-32LE', [0xff, 0xfe, 0x00, 0x00]],
  ['UTF-16BE', [0xfe, 0xff]],
  ['UTF-16LE', [0xff, 0xfe]],
];

/**
 * The UTF-16 or UTF-32 encoding `bytes` look to be in: by a byte order mark, else by NUL bytes among
 * the first four, as RFC 4627 §3 tells them apart (a JSON text begins with an ASCII character, whose
 * UTF-16 or UTF-32 puts NUL in the first or second byte, and UTF-8 writes no NUL byte anywhere in
 * JSON); `undefined` when neither is there. A NUL byte only after the first two (a C string's
 * terminator after `{}`, say) gives away no UTF-16 or UTF-32: that body is refused as not JSON.
 */
export function wideEncoding(bytes: Uint8Array): WideEncoding | undefined {
  for (const [encoding, mark] of WIDE_BYTE_ORDER_MARKS) {
    if (mark.every((byte, index) => bytes[index] === byte))
      return { encoding, sign: `it begins with the byte order mark ${hexBytes(mark)}` };
  }
  const [first, second, third, fourth] = bytes;
  if (first !== 0 && second !== 0) return undefined;
  const sign = `NUL bytes among its first four, ${hexBytes(bytes.subarray(0, 4))}`;
  if (first === 0) return { encoding: second === 0 ? 'UTF-32BE' : 'UTF-16BE', sign };
  return { encoding: third === 0 && fourth === 0 ? 'UTF-32LE' : 'UTF-16LE', sign };
}

/** Bytes as a message shows them: `FF FE`. */
function hexBytes(bytes: Iterable<number>): string {
  return [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, '0')).join(' ');
}
