/**
 * The token scanner VAST instrumentation reads markup with: tags, found by patterns that take time
 * linear in the markup, with comments, CDATA sections, PIs and declarations skipped; and the names
 * and white space the readers of those tokens compare and keep.
 */

/** One piece of markup found by {@link scanMarkup}; comments, CDATA sections, PIs and DOCTYPEs are skipped. */
export type Token =
  /** A start tag written as XML requires (`<name attr="value">` or `<name/>`). */
  | { kind: 'open'; name: string; start: number; end: number; selfClosing: boolean }
  /** An end tag written as XML requires (`</name>`). */
  | { kind: 'close'; name: string; start: number; end: number }
  /** Something tag-like that XML rejects, such as `< /InLine>` or `</ VideoClicks >`. */
  | { kind: 'loose'; name: string; closing: boolean }
  /** A `<` that starts no markup at all (e.g. `<![C DATA[`). */
  | { kind: 'stray' }
  /** A comment, CDATA section, PI or declaration that never ends: the scan stops there. */
  | { kind: 'unterminated' };

/** Characters other than `<` and `>` that end a tag name. */
const NAME_END = `\\s/=!?"'&`;
const NAME = `[^<>${NAME_END}]+`;
const ATTRIBUTE = `\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*')`;
const START_TAG = new RegExp(`<(${NAME})(?:${ATTRIBUTE})*\\s*(/?)>`, 'y');
const END_TAG = new RegExp(`</(${NAME})\\s*>`, 'y');
/**
 * `<\s*(/?)\s*(NAME)[^<>]*>`, written so that no character can be matched in two ways: the name is
 * followed by `>` or by a character that ends it, and the space before it cannot be read as the space
 * after a `/`. Otherwise a failing match would retry every split of the text, in time quadratic in its
 * length (a long name or run of spaces that no `>` closes).
 */
const LOOSE_TAG = new RegExp(`<\\s*(?:(/)\\s*)?(${NAME})(?:[${NAME_END}][^<>]*)?>`, 'y');
/** `<!\w+[^>[]*\[` with no overlap between `\w+` and `[^>[]*`, for the same reason. */
const DECLARATION_WITH_SUBSET = /<!\w[^>[]*\[/y;

/** Skipped constructs: opening text → closing text. */
const SKIPPED_CONSTRUCTS: readonly (readonly [string, string])[] = [
  ['<!--', '-->'],
  ['<![CDATA[', ']]>'],
  ['<?', '?>'],
];

const WHITESPACE_RUN = /\s*/y;

/** Tag readers, tried in order at each `<` that starts no skipped construct. */
const TAG_READERS: readonly (readonly [RegExp, (match: RegExpExecArray, at: number) => Token])[] = [
  [
    START_TAG,
    (match, at) => ({
      kind: 'open',
      name: match[1] ?? '',
      start: at,
      end: at + match[0].length,
      selfClosing: match[2] === '/',
    }),
  ],
  [END_TAG, (match, at) => ({ kind: 'close', name: match[1] ?? '', start: at, end: at + match[0].length })],
  [LOOSE_TAG, (match) => ({ kind: 'loose', name: match[2] ?? '', closing: match[1] === '/' })],
];

/** Reads the markup into tags, skipping comments, CDATA sections, PIs and declarations. */
export function scanMarkup(xml: string): Token[] {
  const tokens: Token[] = [];
  for (let at = xml.indexOf('<'); at >= 0;) {
    const skippedEnd = skipConstruct(xml, at);
    if (skippedEnd === -1) {
      tokens.push({ kind: 'unterminated' });
      break;
    }
    const { token, end } =
      skippedEnd === undefined ? readTag(xml, at) : { token: undefined, end: skippedEnd };
    if (token) tokens.push(token);
    at = xml.indexOf('<', end);
  }
  return tokens;
}

/** Reads the tag-like text at `at` (a `<`). */
function readTag(xml: string, at: number): { token: Token; end: number } {
  for (const [pattern, read] of TAG_READERS) {
    pattern.lastIndex = at;
    const match = pattern.exec(xml);
    if (match) return { token: read(match, at), end: at + match[0].length };
  }
  return { token: STRAY, end: at + 1 };
}

/**
 * The one token every stray `<` is read as: none is told from another, and markup of a million of
 * them made a million objects that lived as long as the reading.
 */
const STRAY: Token = Object.freeze({ kind: 'stray' });

/**
 * If a comment, CDATA section, PI or declaration (DOCTYPE…) starts at `at`, the offset just after
 * it, or -1 when it never ends; `undefined` when none starts there.
 */
export function skipConstruct(xml: string, at: number): number | undefined {
  for (const [opening, closing] of SKIPPED_CONSTRUCTS) {
    if (xml.startsWith(opening, at)) return endAfter(xml, closing, at + opening.length);
  }
  if (!/^<![A-Za-z]/.test(xml.slice(at, at + 3))) return undefined;
  DECLARATION_WITH_SUBSET.lastIndex = at;
  const subsetEnd = DECLARATION_WITH_SUBSET.test(xml)
    ? endAfter(xml, ']', DECLARATION_WITH_SUBSET.lastIndex)
    : at;
  return subsetEnd === -1 ? -1 : endAfter(xml, '>', subsetEnd);
}

/** The offset just after the first `text` from `from`, or -1 if there is none. */
function endAfter(xml: string, text: string, from: number): number {
  const found = xml.indexOf(text, from);
  return found === -1 ? -1 : found + text.length;
}

/** The offset just after the white space that starts at `from`. */
export function skipWhitespace(text: string, from: number): number {
  return from + whitespaceAt(text, from).length;
}

/** The run of white space that starts at `from`, empty when there is none. */
export function whitespaceAt(text: string, from: number): string {
  WHITESPACE_RUN.lastIndex = from;
  return WHITESPACE_RUN.exec(text)?.[0] ?? '';
}

/** `vast:InLine` → `inline`: tag names compare without prefix and case. */
export function localName(qualifiedName: string): string {
  return qualifiedName.slice(qualifiedName.indexOf(':') + 1).toLowerCase();
}

/** `vast:InLine` → `vast:`: the namespace prefix with its colon, empty when there is none. */
export function prefixOf(qualifiedName: string): string {
  const colon = qualifiedName.indexOf(':');
  return colon === -1 ? '' : qualifiedName.slice(0, colon + 1);
}
