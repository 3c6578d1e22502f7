/** What begins text a spreadsheet may read as a formula, or the escape itself. */
const FORMULA_START = /^[\s\0']|^[=+\-@|\uFF1D\uFF0B\uFF0D\uFF20\uFF5C]/;
/** Text a spreadsheet reads as a number: digits, with a decimal point or an exponent or both. */
const NUMBER_TEXT = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/**
 * Number text a spreadsheet reads back as written: a whole number of at most 15 digits (the most
 * a spreadsheet keeps) without a leading zero.
 */
const PLAIN_NUMBER_TEXT = /^(?:0|[1-9]\d{0,14})$/;

/** A month's name, whole or cut short (`Jan`, `SEPT`, `March`), as a date's text begins or ends. */
const MONTH = '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*';
/**
 * Text other than a number that a spreadsheet reads as a value of its own as it opens a CSV file:
 * a date, time, fraction, grouped number, percentage, amount or accounting negative (digits with
 * `- / . : , %`, a currency sign, brackets, `AM`/`PM`: `1-2`, `1:30`, `1,000`, `50%`, `$5`, `(5)`);
 * a date with a month's name (`Jan-5`, `SEPT2`, `1 Jan 2026`); a boolean; an error literal.
 */
const SPREADSHEET_VALUE_TEXT = [
  /^(?=.*\d)[\d\s\-/.:,%$€£¥()]+(?:[ap]m)?$/i,
  new RegExp(`^${MONTH}[\\s\\-/.,]*\\d{1,4}(?:[\\s\\-/.,]+\\d{1,4})?$`, 'i'),
  new RegExp(`^\\d{1,4}[\\s\\-/.]*${MONTH}(?:[\\s\\-/.,]+\\d{1,4})?$`, 'i'),
  /^(?:true|false)$/i,
  /^#(?:N\/A|NULL!|DIV\/0!|VALUE!|REF!|NAME\?|NUM!)$/i,
];

/**
 * A CSV cell (RFC 4180; `null` and `undefined` as an empty one). Text a spreadsheet could run as a
 * formula (CSV injection) — starting with = + - @ | or their full-width forms, after any white
 * space or NUL, or with white space or NUL at all — is written after a `'`, as is text it would
 * read as another number than written (an id of more than 15 digits, `7431235367391739290`, one
 * with a leading zero, `0042`, a decimal point or an exponent, `1E5`) or as a date, amount or
 * the like (`1-2`, `SEPT2`, `50%`, `TRUE`: see `SPREADSHEET_VALUE_TEXT`), and text already starting
 * with one, so that taking one leading `'` off a cell that has it always gives the value back.
 */
export function csvCell(value: CsvValue): string {
  const text = value === undefined || value === null ? '' : String(value);
  const escaped =
    typeof value === 'string' &&
    (FORMULA_START.test(text) ||
      (NUMBER_TEXT.test(text) ? !PLAIN_NUMBER_TEXT.test(text) : readAsValue(text)));
  const safe = escaped ? `'${text}` : text;
  // Quoted also when holding a semicolon or tab: a spreadsheet whose list separator is one of
  // them would otherwise split `x;=1+1` into a second cell that starts with a formula.
  return /[",;\t\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Whether a spreadsheet reads `text`, not a number, as a date, amount, boolean or the like. */
function readAsValue(text: string): boolean {
  return SPREADSHEET_VALUE_TEXT.some((pattern) => pattern.test(text));
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
