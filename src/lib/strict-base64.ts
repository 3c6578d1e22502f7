/** Characters of base64 (RFC 4648 §4) and of base64url (§5): a key may be given in either. */
const BASE64_CHARACTER = /[A-Za-z0-9+/_-]/;

/**
 * The bytes `text` holds in base64 or base64url, with or without its `=` padding, or what is
 * wrong with it, about the text `what` names (`its key`). Strict where `Buffer.from(text,
 * 'base64')` is not: a character outside the alphabets (a space, a quote, a `|` mistyped for
 * `l`), padding that is wrong, a length no base64 has, or a last character holding bits past the
 * last byte (a character mistyped there, which decoding would drop) are refused rather than
 * skipped, so that no mistyped text is read as other bytes; so are bytes of another number than
 * `byteLength`, when given (a key's). Never shows the text: it may be a secret.
 */
export function decodeBase64(
  text: string,
  what: string,
  byteLength?: number,
): { bytes: Buffer } | { problem: string } {
  const unpadded = text.replace(/=+$/, '');
  const wrongAt = [...unpadded].findIndex((character) => !BASE64_CHARACTER.test(character));
  if (wrongAt !== -1)
    return {
      problem: `character ${wrongAt + 1} of ${what} is not base64 (A-Z, a-z, 0-9, + and /, or - and _)`,
    };
  if (unpadded.length % 4 === 1) return { problem: `${what} is cut short or has a character too many` };
  const padding = text.length - unpadded.length;
  const needed = (4 - (unpadded.length % 4)) % 4;
  if (padding !== 0 && padding !== needed)
    return { problem: `${what} ends in ${padding} "=" where base64 of its length has ${needed}` };
  const bytes = Buffer.from(unpadded, 'base64');
  if (bytes.toString('base64url') !== unpadded.replaceAll('+', '-').replaceAll('/', '_'))
    return {
      problem: `the last character of ${what} holds bits past its last byte: a character was mistyped`,
    };
  if (byteLength !== undefined && bytes.length !== byteLength)
    return { problem: `${what} is ${bytes.length} bytes` };
  return { bytes };
}
