/**
 * Raw bytes of 0x80 and above in a request target, read as their percent-escapes. llhttp refuses a
 * target holding them (400, `HPE_INVALID_URL`), but clients that fill macros without encoding them
 * (ad servers, SSAI servers, app SDKs) send them, as UTF-8: RFC 3986 (§2.1, §6.2.2) reads such a
 * byte as the `%XX` it stands for, so the notice lane writes it so, and the request is served and
 * recorded as its encoded form would be. Nothing else changes: a control character, a space or DEL
 * stays as it was sent, and is refused as before.
 */

const HEX = '0123456789ABCDEF';
const SPACE = 0x20;
const DELETE = 0x7f;
const FIRST_RAW = 0x80;

/** `target` (bytes decoded as latin1) with each character from U+0080 to U+00FF written `%XX`. */
export function encodeRawBytes(target: string): string {
  let encoded = '';
  let from = 0;
  for (let at = 0; at < target.length; at++) {
    const code = target.charCodeAt(at);
    if (code < FIRST_RAW) continue;
    encoded += `${target.slice(from, at)}%${HEX[code >> 4]}${HEX[code & 0x0f]}`;
    from = at + 1;
  }
  return from === 0 ? target : encoded + target.slice(from);
}

/**
 * The bytes of a request (its head first, after any line breaks before it) with the raw bytes of
 * its request target (after a method of visible ASCII and a space, up to the next space, control
 * character or DEL, or the end of `bytes`) percent-encoded; `bytes` itself when the target holds
 * none, or the bytes do not begin with a method. Only the target of this first request line
 * changes: a header, a body or a request after it is never touched.
 */
export function withRawTargetEncoded(bytes: Buffer): Buffer {
  const start = bytes.indexOf(SPACE) + 1;
  if (start <= 1) return bytes;
  for (let at = 0; at < start - 1; at++) if (!isVisibleAscii(bytes[at] ?? 0)) return bytes;
  let end = start;
  let raw = false;
  for (; end < bytes.length; end++) {
    const byte = bytes[end] ?? 0;
    if (byte <= SPACE || byte === DELETE) break;
    if (byte >= FIRST_RAW) raw = true;
  }
  if (!raw) return bytes;
  const target = encodeRawBytes(bytes.toString('latin1', start, end));
  return Buffer.concat([bytes.subarray(0, start), Buffer.from(target, 'latin1'), bytes.subarray(end)]);
}

function isVisibleAscii(byte: number): boolean {
  return byte > SPACE && byte < DELETE;
}
