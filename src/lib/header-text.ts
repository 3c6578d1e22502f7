/** A UTF-8 decoder that refuses bytes that are no UTF-8. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value as a person reads it: node:http gives each of its bytes as the Latin-1
 * character, but a client that writes beyond ASCII writes UTF-8 (`é` as 0xC3 0xA9), which read
 * byte by byte is `Ã©`. Bytes that are no UTF-8 stay Latin-1.
 */
export function headerText(received: string): string {
  if (!/[\u0080-\u00ff]/.test(received)) return received;
  try {
    return STRICT_UTF8.decode(Buffer.from(received, 'latin1'));
  } catch {
    return received;
  }
}
