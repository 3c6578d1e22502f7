/**
 * What `JSON.parse` says of `text` (where it stops, and why), or `''` when `text` is JSON: see
 * {@link jsonErrorMessage}.
 */
export function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (error) {
    return jsonErrorMessage(error);
  }
}

/**
 * The message of an error `JSON.parse` threw, as text that JSON readers take. It names the token
 * and quotes the text around it by UTF-16 units, half a character of two at times (`Unexpected
 * token '\ud83d'`): a half is written U+FFFD, as strict readers (Rust's serde_json, .NET's
 * System.Text.Json) refuse a lone surrogate escape in the answer that repeats the message.
 */
export function jsonErrorMessage(error: unknown): string {
  return (error as Error).message.toWellFormed();
}
