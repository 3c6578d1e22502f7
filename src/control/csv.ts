/** What begins text a spreadsheet may read as a formula, or the escape itself. */
const FORMULA_START = /^[\s\0']|^[=+\-@|\uFF1D\uFF0B\uFF0D\uFF20]/;
/** Text a spreadsheet reads as a number: digits, with a decimal point or an exponent or both. */
const NUMBER_TEXT = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/**
 * Number text a spreadsheet reads back as written: a whole number of at most 15 digits (the most
 * a spreadsheet keeps) without a leading zero.
 */
const PLAIN_NUMBER_TEXT = /^(?:0|[1-9]\d{0,14})$/;

/**
 * A CSV cell (RFC 4180; `null` and `undefined` as an empty one). Text a spreadsheet could run as a
 * formula (CSV injection) — starting with = + - @ | or their full-width forms, after any white
 * space or NUL, or with white space or NUL at all — is written after a `'`, as is text it would
 * read as another number than written (an id of more than 15 digits, `7431235367391739290`, one
 * with a leading zero, `0042`, a decimal point or an exponent, `1E5`), and text already starting
 * with one, so that taking one leading `'` off a cell that has it always gives the value back.
 */
export function csvCell(value: CsvValue): string {
  const text = value === undefined || value === null ? '' : String(value);
  const escaped =
    typeof value === 'string' &&
    (FORMULA_START.test(text) || (NUMBER_TEXT.test(text) && !PLAIN_NUMBER_TEXT.test(text)));
  const safe = escaped ? `'${text}` : text;
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
