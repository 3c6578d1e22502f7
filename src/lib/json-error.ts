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

/** V8's message for an unexpected token, which quotes the text around it (or all of a short one). */
const QUOTING_MESSAGE = /^(Unexpected token '[^]+?'), [^]* is not valid JSON$/;

/** V8's message that says where it stops by position (0-based), by line and column too in Node 22. */
const POSITION_MESSAGE = /^([^]*) at position (\d+)(?: \(line \d+ column \d+\))?$/;

/**
 * What `JSON.parse` said of `text` (its `error`), quoting none of the text: V8 quotes the text
 * around an unexpected token, which in a file of keys (the configuration) may be part of a key.
 * Where it stops is given by line and column instead (1-based, in UTF-16 units), also where V8
 * gives a position.
 */
export function unquotedJsonErrorMessage(text: string, error: unknown): string {
  const message = jsonErrorMessage(error);
  const quoting = QUOTING_MESSAGE.exec(message);
  if (quoting === null) {
    const positioned = POSITION_MESSAGE.exec(message);
    if (positioned === null) return message;
    const before = text.slice(0, Number(positioned[2]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    return `${positioned[1]} at line ${line}, column ${column}`;
  }
  // The shortest start of the text that JSON.parse refuses so ends with the unexpected token:
  // every shorter one ends before it, refused, if at all, for ending too soon.
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (QUOTING_MESSAGE.test(jsonError(text.slice(0, middle)))) high = middle;
    else low = middle + 1;
  }
  const before = text.slice(0, low - 1);
  const line = before.split('\n').length;
  const column = low - before.lastIndexOf('\n') - 1;
  return `${quoting[1]} at line ${line}, column ${column}`;
}
