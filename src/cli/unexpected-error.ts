/**
 * The one line `tally` prints for an error it did not expect (a bug, a ledger damaged past what it
 * checks): the error and its stack (see {@link unexpectedErrorText}), so that a log scraper reading
 * a line per error keeps all of it, and a bug report can quote it whole.
 */
export function unexpectedErrorLine(error: unknown): string {
  return `Tally failed unexpectedly (report this line): ${unexpectedErrorText(error)}\n`;
}

/** An error and its stack on one line: each line of them trimmed, joined by ` | `. */
export function unexpectedErrorText(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return text
    .split(/\r\n|[\n\r\u2028\u2029]/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' | ');
}
