/** What begins text a spreadsheet may read as a formula, or the escape itself. */
const FORMULA_START = /^[\s\0']|^[=+\-@|\uFF1D\uFF0B\uFF0D\uFF20]/;

/**
 * A CSV cell (RFC 4180; `null` and `undefined` as an empty one). Text a spreadsheet could run as a
 * formula (CSV injection) — starting with = + - @ | or their full-width forms, after any white
 * space or NUL, or with white space or NUL at all — is written after a `'`, as is text already
 * starting with one, so that taking one leading `'` off a cell that has it always gives the value
 * back.
 */
export function csvCell(value: CsvValue): string {
  const text = value === undefined || value === null ? '' : String(value);
  const safe = FORMULA_START.test(text) && typeof value === 'string' ? `'${text}` : text;
  // Quoted also when holding a semicolon or tab: a spreadsheet whose list separator is one of
  // them would otherwise split `x;=1+1` into a second cell that starts with a formula.
  return /[",;\t\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** A cell's value as `csvCell` takes it. */
type CsvValue = string | number | bigint | boolean | null | undefined;

/** CSV text (RFC 4180, CRLF line ends): a header line of `columns`, then a line for each row. */
export function csvText(
  columns: readonly string[],
  rows: readonly Readonly<Record<string, CsvValue>>[],
): string {
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((column) => csvCell(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
