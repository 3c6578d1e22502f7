/**
 * UTF-8 decoding that keeps the bytes that are no part of a character, marked, rather than
 * refusing the whole text or replacing them with U+FFFD: each such byte (0x80 to 0xFF) is written
 * as the lone low surrogate U+DC80 to U+DCFF (its value plus 0xDC00, as Python's `surrogateescape`
 * writes it). Text decoded from well-formed UTF-8 never holds a lone surrogate, so a caller that
 * parses the text (JSON keeps such a character in its strings) can tell which part of it held the
 * bytes, and refuse that part alone.
 */

/** Decodes ranges found well-formed; a BOM inside one is text, not a mark to drop. */
const WELL_FORMED = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = [0xef, 0xbb, 0xbf];
/** A marked byte: a lone low surrogate U+DC80 to U+DCFF (one in a pair is part of a character). */
const MARKED_BYTE = /[\u{DC80}-\u{DCFF}]/u;

/**
 * `bytes` as text, a byte order mark that begins them dropped (as a JSON reader may, RFC 8259
 * §8.1), each byte that is no part of a well-formed UTF-8 character marked (see above).
 */
export function decodeMarkingBadBytes(bytes: Uint8Array): string {
  let at = BOM.every((byte, index) => bytes[index] === byte) ? BOM.length : 0;
  let text = '';
  let rangeStart = at;
  while (at < bytes.length) {
    const length = characterLength(bytes, at);
    if (length > 0) {
      at += length;
      continue;
    }
    text +=
      WELL_FORMED.decode(bytes.subarray(rangeStart, at)) + String.fromCharCode(0xdc00 + (bytes[at] ?? 0));
    at += 1;
    rangeStart = at;
  }
  return text + WELL_FORMED.decode(bytes.subarray(rangeStart));
}

/** Whether text from {@link decodeMarkingBadBytes} had bytes marked. */
export function hasMarkedBytes(text: string): boolean {
  return MARKED_BYTE.test(text);
}

/**
 * The byte a string of text from {@link decodeMarkingBadBytes} holds marked (its first), and the
 * text before it in that string; `undefined` when it holds none.
 */
export function markedByteIn(text: string): { byte: number; before: string } | undefined {
  const found = MARKED_BYTE.exec(text);
  if (found === null) return undefined;
  return { byte: text.charCodeAt(found.index) - 0xdc00, before: text.slice(0, found.index) };
}

/**
 * Unicode's table 3-7 (well-formed UTF-8 byte sequences): for each range of lead bytes, the
 * character's length and the range its second byte must be in (every later byte is 0x80 to 0xBF).
 * It leaves out overlong forms, surrogates and anything past U+10FFFF.
 */
const LEAD_BYTES: readonly {
  from: number;
  to: number;
  length: number;
  secondLow: number;
  secondHigh: number;
}[] = [
  { from: 0xc2, to: 0xdf, length: 2, secondLow: 0x80, secondHigh: 0xbf },
  { from: 0xe0, to: 0xe0, length: 3, secondLow: 0xa0, secondHigh: 0xbf },
  { from: 0xe1, to: 0xec, length: 3, secondLow: 0x80, secondHigh: 0xbf },
  { from: 0xed, to: 0xed, length: 3, secondLow: 0x80, secondHigh: 0x9f },
  { from: 0xee, to: 0xef, length: 3, secondLow: 0x80, secondHigh: 0xbf },
  { from: 0xf0, to: 0xf0, length: 4, secondLow: 0x90, secondHigh: 0xbf },
  { from: 0xf1, to: 0xf3, length: 4, secondLow: 0x80, secondHigh: 0xbf },
  { from: 0xf4, to: 0xf4, length: 4, secondLow: 0x80, secondHigh: 0x8f },
];

/** The length of the well-formed UTF-8 character at `at` ({@link LEAD_BYTES}), or 0 where none begins. */
function characterLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at] ?? 0;
  if (lead < 0x80) return 1;
  const form = LEAD_BYTES.find(({ from, to }) => lead >= from && lead <= to);
  if (form === undefined || at + form.length > bytes.length) return 0;
  const second = bytes[at + 1] ?? 0;
  if (second < form.secondLow || second > form.secondHigh) return 0;
  for (let next = at + 2; next < at + form.length; next++) {
    const byte = bytes[next] ?? 0;
    if (byte < 0x80 || byte > 0xbf) return 0;
  }
  return form.length;
}
