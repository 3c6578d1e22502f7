/**
 * The one line `tally` prints for an error it did not expect (a bug, a ledger damaged past what it
 * checks): the error and its stack, each line of them trimmed and joined by ` | `, so that a log
 * scraper reading a line per error keeps all of it, and a bug report can quote it whole.
 */
export function unexpectedErrorLine(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  const lines = text
    .split(/\r\n|[\n\r\u2028\u2029]/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return `Tally failed unexpectedly (report this line): ${lines.join(' | ')}\n`;
}
