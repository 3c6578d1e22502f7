/**
 * Raw bytes of 0x80 and above in a request target, read as their percent-escapes. llhttp refuses a
 * target holding them (400, `HPE_INVALID_URL`), but clients that fill macros without encoding them
 * (ad servers, SSAI servers, app SDKs) send them, as UTF-8: RFC 3986 (§2.1, §6.2.2) reads such a
 * byte as the `%XX` it stands for, so the notice lane writes it so, and the request is served and
 * recorded as its encoded form would be. Nothing else changes: a control character, a space or DEL
 * stays as it was sent, and is refused as before.
 */

import { METHODS } from 'node:http';

const HEX = '0123456789ABCDEF';
const SPACE = 0x20;
const DELETE = 0x7f;
const FIRST_RAW = 0x80;
/** The methods node:http knows, each with the space after it. */
const METHOD_STARTS = METHODS.map((method) => Buffer.from(`${method} `, 'latin1'));

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
  const start = targetStart(bytes);
  if (start === -1) return bytes;
  const end = targetEnd(bytes, start);
  let raw = false;
  for (let at = start; at < end && !raw; at++) raw = (bytes[at] ?? 0) >= FIRST_RAW;
  if (!raw) return bytes;
  const target = encodeRawBytes(bytes.toString('latin1', start, end));
  return Buffer.concat([bytes.subarray(0, start), Buffer.from(target, 'latin1'), bytes.subarray(end)]);
}

/**
 * Whether the start of a request stops before its request target has ended: within a method
 * node:http knows (the space after it not yet come), or inside the target after a method of
 * visible ASCII and a space. Such bytes are not yet all `withRawTargetEncoded` would encode: the
 * rest of the target, raw bytes included, is still to come.
 */
export function targetIncomplete(bytes: Buffer): boolean {
  const start = targetStart(bytes);
  if (start === -1) {
    return METHOD_STARTS.some(
      (method) => bytes.length < method.length && method.subarray(0, bytes.length).equals(bytes),
    );
  }
  return targetEnd(bytes, start) === bytes.length;
}

/** Whether `bytes` hold a byte that ends a request target: a space, a control character or DEL. */
export function endsTarget(bytes: Buffer): boolean {
  return targetEnd(bytes, 0) < bytes.length;
}

/** Where the request target of `bytes` begins, after a method of visible ASCII and a space; else -1. */
function targetStart(bytes: Buffer): number {
  const space = bytes.indexOf(SPACE);
  if (space < 1) return -1;
  for (let at = 0; at < space; at++) if (!isVisibleAscii(bytes[at] ?? 0)) return -1;
  return space + 1;
}

/** Where a target from `start` ends: its first space, control character or DEL, else the end of `bytes`. */
function targetEnd(bytes: Buffer, start: number): number {
  let end = start;
  while (end < bytes.length && !endsTargetByte(bytes[end] ?? 0)) end++;
  return end;
}

function endsTargetByte(byte: number): boolean {
  return byte <= SPACE || byte === DELETE;
}

function isVisibleAscii(byte: number): boolean {
  return byte > SPACE && byte < DELETE;
}
