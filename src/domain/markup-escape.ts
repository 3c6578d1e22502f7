/**
 * Escaping of macro values for the markup they are substituted into, so that the markup stays
 * valid and its reader (a JSON parser, an XML parser, a browser) reads back the value itself: what
 * OpenRTB's "plain textual replacement" means for the reader of the markup, whatever characters
 * the exchange's ids hold.
 *
 * A macro (`${AUCTION_ID}`, `${AUCTION_PRICE:BF}`) holds no `<`, `>`, `[`, `]` or quote, so it
 * never straddles the delimiters of the regions found here (tags, comments, CDATA sections,
 * script bodies): each region is substituted on its own, with its own escaping.
 */
import { escapeHtml } from './html.js';
import type { HtmlRegion } from './html-regions.js';
import { htmlRegions } from './html-regions.js';
import { jsonStringEnd } from './json-members.js';

/** The language of a win's markup: banner HTML, VAST XML, native JSON. */
export type MarkupLanguage = 'html' | 'xml' | 'json';

/**
 * Substitutes the macros of `text`, passing each value through `escape`. Every macro begins with
 * `${`: a text without one comes back as it is.
 */
type RegionSubstitution = (text: string, escape: (value: string) => string) => string;

/** How a region's values are written, and what must not appear in it after substitution. */
type RegionKind =
  /** XML outside CDATA, comments and PIs: values XML-escaped. */
  | 'xml'
  /** Inside a CDATA section: values as they are; a `]]>` is split across two sections. */
  | 'cdata'
  /** Inside an XML or HTML comment: values as they are, hyphens kept from making a `--`. */
  | 'comment'
  /** Inside a PI (`<?…?>`): values as they are, a `?>` they make broken up. */
  | 'pi'
  /**
   * The content of `<textarea>`, `<title>` and of the raw-text elements other than scripts and
   * styles: values HTML-escaped.
   */
  | 'html'
  /** HTML text: values HTML-escaped, one right after a `<` with its first letter as a reference. */
  | 'text'
  /**
   * An HTML tag: values HTML-escaped, and white space, `=` and `` ` `` written as references too,
   * so that a value in an unquoted attribute value stays that value, not more attributes.
   */
  | 'tag'
  /** An event handler's value (`onclick`) or a `javascript:` URL: escaped as in a script, then as in a tag. */
  | 'handler'
  /** A `style` attribute's value: CSS escapes, then as in a tag. */
  | 'styleAttribute'
  /** An iframe's `srcdoc`, a document: escaped as in a tag twice, once for each reading. */
  | 'srcdoc'
  /**
   * HTML's bogus comment (`<!…>`, `<?…>`), which nothing reads: values as they are but for `>`,
   * which would end it, and a first `-` or `[`, which right after `<!` (or `<!-`) would open a
   * comment, or in SVG a CDATA section, instead, as would a `--` or `[` an empty value brings to
   * its start from the text. (No other character of a value can be one of the first two after
   * `<!`.)
   */
  | 'bogus'
  /**
   * A script's text: values escaped as in a JavaScript (and JSON) string, so that none ends the
   * string or the script (see `escapeScriptString`).
   */
  | 'script'
  /** A style's text: values written with CSS escapes but for the characters of a name. */
  | 'style';

interface Region {
  kind: RegionKind;
  start: number;
  end: number;
}

/** How each kind of HTML region is escaped. */
function htmlRegionKind({ kind, name, dataBlock }: HtmlRegion): RegionKind {
  switch (kind) {
    // The text of an SVG script or style is markup, but runs as a script or style does.
    case 'markup':
      return scriptOrStyle(name) ?? 'text';
    case 'tag':
      return 'tag';
    case 'value':
      return name === 'style' ? 'styleAttribute' : name === 'srcdoc' ? 'srcdoc' : 'handler';
    // `<textarea>` and `<title>` read character references: escaped like text.
    case 'rcdata':
      return 'html';
    case 'comment':
      return 'comment';
    case 'cdata':
      return scriptOrStyle(name) ?? 'cdata';
    case 'bogus':
      return 'bogus';
    case 'raw':
      // The other raw-text elements (`<xmp>`, `<iframe>`, `<noembed>`, `<plaintext>`…) are read
      // as HTML where a browser reads them at all, as inside `<svg>`; so is a script's data block
      // (a template), once a script puts it in the page.
      return dataBlock === true ? 'html' : (scriptOrStyle(name) ?? 'html');
  }
}

/** `script` or `style` for the text of an element of that name, whose values are escaped so. */
function scriptOrStyle(name: string | undefined): 'script' | 'style' | undefined {
  return name === 'script' || name === 'style' ? name : undefined;
}

const CDATA_START = '<![CDATA[';
const CDATA_END = ']]>';
const CDATA_SPLIT = ']]]]><![CDATA[>';
/** A CR inside CDATA, written so that a parser reads a CR: the section ends, a reference, it goes on. */
const CDATA_CR = ']]>&#13;<![CDATA[';
/**
 * A character no value holds once the characters XML forbids are percent-encoded: marks, in a
 * substituted text, which characters are the values'.
 */
const VALUE_MARK = '\uFFFF';
/** A second such character: marks, in a comment's substituted text, where each value starts and ends. */
const VALUE_BOUNDARY = '\uFFFE';

/** Characters XML 1.0 does not allow anywhere in a document, not even as character references. */
const NON_XML_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // In an attribute value a parser reads tabs and line breaks as spaces, and everywhere a CR as a
  // line feed, unless they are written as references.
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/**
 * The markup with `substitute` applied to each of its regions, given the escaping each needs:
 * - `json`: the JSON-escaped value (`JSON.stringify(value)` without its quotes) — macros in JSON
 *   stand inside strings, and a number's text escapes to itself — but in a string of HTML or VAST
 *   of its own (`jstracker`, `vasttag`), escaped as in that markup, then for JSON;
 * - `xml`: the value as it is inside CDATA sections (a `]]>` the substitution makes is split as
 *   `]]]]><![CDATA[>`, a CR written `]]>&#13;<![CDATA[`), XML-escaped elsewhere (`& < > " '`,
 *   and tab, LF and CR as references); characters XML 1.0 cannot hold at all (control
 *   characters, lone surrogates) are percent-encoded, as Tally's own VAST URLs are;
 * - `html`: the value HTML-escaped (`& < > " '`) in text (right after a `<`, its first letter as a
 *   reference), and white space, `=` and `` ` `` too in tags (attribute values, quoted or not);
 *   escaped as in a JavaScript string inside a script (SVG's too) and with CSS escapes inside a
 *   style, written so that they hold nothing HTML reads; in an event handler, a `style` attribute
 *   or an `srcdoc`, escaped for what reads the value, then as in a tag.
 *
 * Inside comments, PIs and HTML's bogus comments, which nothing reads, the value goes as it is,
 * except that a `--`, a final `-` or a leading `>` it makes in a comment (a `?>` in a PI, a `>` or
 * first `-` in a bogus comment) is broken up or escaped, so that it cannot end it early or make it a
 * comment.
 */
export function substituteInMarkup(
  markup: string,
  language: MarkupLanguage,
  substitute: RegionSubstitution,
): string {
  if (language === 'json') return substituteInJson(markup, substitute);
  // A region without a macro comes out as it is, but for a comment holding a mark of its own.
  const holdsMark = MARKED.test(markup);
  if (!markup.includes(MACRO_START) && !holdsMark) return markup;
  return language === 'xml'
    ? substituteRegions(markup, xmlRegions(markup), (region) => region.kind, holdsMark, substitute)
    : substituteRegions(markup, htmlRegions(markup), htmlRegionKind, holdsMark, substitute);
}

/**
 * The members of a native response whose string value is markup of its own: the
 * deprecated `jstracker`, HTML, and a video asset's `vasttag`, VAST.
 */
const NESTED_MARKUP: ReadonlyMap<string, MarkupLanguage> = new Map([
  ['jstracker', 'html'],
  ['vasttag', 'xml'],
]);
/**
 * The JSON strings of `text` in order, each from its opening quote to just after its closing one.
 * A string never closed ends the reading: every quote after it stands inside it (escaped), and
 * read as an opening one would run to the text's end too, as each of them once did, in time
 * quadratic in their number.
 */
function* jsonStrings(text: string): Generator<{ start: number; end: number }> {
  for (let start = text.indexOf('"'); start !== -1;) {
    const end = jsonStringEnd(text, start);
    if (end === undefined) return;
    yield { start, end };
    start = text.indexOf('"', end);
  }
}

/** What lies between a member's name and its value: a colon and white space. */
const NAME_SEPARATOR = /^[ \t\n\r]*:[ \t\n\r]*$/;

/**
 * Native JSON with `substitute` applied, values JSON-escaped, but for the value of a member whose
 * string is markup of its own (see {@link NESTED_MARKUP}) holding macros: that string is read,
 * substituted as that markup, so that a value ends no attribute or tag in it, and written back as
 * a JSON string. JSON the text cannot be read as (macros written as bare values) is substituted
 * as far as it can be read.
 */
function substituteInJson(markup: string, substitute: RegionSubstitution): string {
  if (!markup.includes(MACRO_START)) return markup;
  let output = '';
  let copiedTo = 0;
  let name: { text: string; end: number } | undefined;
  for (const { start, end } of jsonStrings(markup)) {
    const literal = markup.slice(start, end);
    const language =
      name !== undefined && NAME_SEPARATOR.test(markup.slice(name.end, start))
        ? NESTED_MARKUP.get(name.text)
        : undefined;
    name = { text: literal.slice(1, -1), end };
    if (language === undefined || !literal.includes(MACRO_START)) continue;
    const nested = jsonStringValue(literal);
    if (nested === undefined) continue;
    output += substitute(markup.slice(copiedTo, start), escapeJsonString);
    output += JSON.stringify(substituteInMarkup(nested, language, substitute));
    copiedTo = end;
  }
  return output + substitute(markup.slice(copiedTo), escapeJsonString);
}

/** The string a JSON string literal holds, or `undefined` where it holds what JSON does not allow. */
function jsonStringValue(literal: string): string | undefined {
  try {
    return JSON.parse(literal) as string;
  } catch {
    return undefined;
  }
}

/**
 * The markup with `substitute` applied to each of its regions (in order, covering it whole), each
 * escaped as `kindOf` says. A region without a macro is left as it is, but for a comment when the
 * markup holds a mark (see `commentText`); runs of such regions are copied whole, not region by
 * region: markup of many small regions (hundreds of thousands of `<!---->`) and few macros would
 * otherwise be cut into hundreds of thousands of strings to be joined again.
 */
function substituteRegions<R extends Pick<Region, 'start' | 'end'>>(
  markup: string,
  regions: readonly R[],
  kindOf: (region: R) => RegionKind,
  holdsMark: boolean,
  substitute: RegionSubstitution,
): string {
  const pieces: string[] = [];
  let keptStart = 0;
  let keptEnd = 0;
  let macroStart = markup.indexOf(MACRO_START);
  for (const region of regions) {
    const { start, end } = region;
    if (macroStart !== -1 && macroStart < start) macroStart = markup.indexOf(MACRO_START, start);
    const holdsMacro = macroStart !== -1 && macroStart + MACRO_START.length <= end;
    if (!holdsMacro && !(holdsMark && kindOf(region) === 'comment')) {
      if (start !== keptEnd) {
        pieces.push(markup.slice(keptStart, keptEnd));
        keptStart = start;
      }
      keptEnd = end;
      continue;
    }
    pieces.push(
      markup.slice(keptStart, keptEnd),
      substituteRegion(markup, { kind: kindOf(region), start, end }, substitute),
    );
    keptStart = keptEnd = end;
  }
  pieces.push(markup.slice(keptStart, keptEnd));
  return pieces.join('');
}

/** How every macro begins. */
const MACRO_START = '${';

/**
 * The value as an HTML attribute value, quoted or not: HTML-escaped, and white space, `=` and
 * `` ` `` as references.
 */
function escapeTagValue(value: string): string {
  return escapeHtml(value).replace(/[\t\n\f\r =`]/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * The value as it is written inside a script, wherever the macro stands there: every character but
 * ASCII letters, digits, `_`, `.` and an inner `-` as a `\uXXXX` escape. In a JavaScript string
 * of any quotes, a template literal or JSON it reads back as the value; in a comment or a regular
 * expression it ends nothing (no comment end, `/` or line terminator such as U+2028); written as
 * bare code, outside any string, it can call nothing: any other character fails to parse. It holds
 * none of the characters HTML reads (a script in SVG decodes character references), nor a hyphen
 * that could make a `<!--` or `-->` with the script around it, nor a `%` that a `javascript:` URL
 * would decode.
 */
function escapeScriptString(value: string): string {
  return value.replace(SCRIPT_ESCAPED, unicodeEscape);
}

/** The characters {@link escapeScriptString} escapes: UTF-16 code units, one at a time. */
const SCRIPT_ESCAPED = /[^A-Za-z0-9_.-]|^-|-$/g;

/** A character as a JavaScript and JSON `\uXXXX` escape. */
function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Characters a value keeps as they are in a style body: those of a CSS name. */
const CSS_PLAIN = /[^A-Za-z0-9_\-\u0080-\u{10FFFF}]/gu;

/**
 * The value with CSS escapes (`\3C `) for all but the characters of a CSS name, so that it reads
 * back as itself in a string, a `url()` or a name, ends none of them, and holds none of the
 * characters HTML reads (a style in SVG decodes character references).
 */
function escapeCss(value: string): string {
  return value.replace(CSS_PLAIN, (char) => `\\${(char.codePointAt(0) ?? 0).toString(16).toUpperCase()} `);
}

/**
 * The substituted text of an HTML text region: values HTML-escaped, and one that follows a `<` of
 * the markup (`<${AUCTION_ID}`) with its first letter, `!`, `/` or `?` as a reference, so that it
 * opens no tag. (No macro holds a `<`, so the text is substituted piece by piece.)
 */
function textWithValues(text: string, substitute: RegionSubstitution): string {
  return text
    .split('<')
    .map((piece, index) => {
      if (index === 0 || !piece.startsWith('$')) return substitute(piece, escapeHtml);
      let first = true;
      return substitute(piece, (value) => {
        const escaped = first
          ? escapeHtml(value).replace(/^[A-Za-z!/?]/, (char) => `&#${char.charCodeAt(0)};`)
          : escapeHtml(value);
        first = false;
        return escaped;
      });
    })
    .join('<');
}

/** The value as it is written inside a JSON string: `JSON.stringify(value)` without its quotes. */
export function escapeJsonString(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/**
 * The value as XML character data or attribute value text: `& < > " '`, tab, LF and CR written as
 * references, characters XML forbids percent-encoded.
 */
export function escapeXml(value: string): string {
  return xmlCharacters(value).replace(/[&<>"'\t\n\r]/g, (char) => XML_ESCAPES[char] ?? char);
}

/**
 * `text` as a CDATA section that reads back as it: the characters XML forbids percent-encoded, a
 * `]]>` split across two sections.
 */
export function cdataSection(text: string): string {
  return `${CDATA_START}${xmlCharacters(text).replaceAll(CDATA_END, CDATA_SPLIT)}${CDATA_END}`;
}

/** The value with the characters XML 1.0 forbids percent-encoded (lone surrogates as U+FFFD). */
function xmlCharacters(value: string): string {
  return value.replace(NON_XML_CHARACTER, (character) => {
    const code = character.codePointAt(0) ?? 0;
    return code < 0x20 ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : '%EF%BF%BD';
  });
}

function substituteRegion(
  markup: string,
  { kind, start, end }: Region,
  substitute: RegionSubstitution,
): string {
  const text = markup.slice(start, end);
  switch (kind) {
    case 'xml':
      return substitute(text, escapeXml);
    case 'html':
      return substitute(text, escapeHtml);
    case 'text':
      return textWithValues(text, substitute);
    case 'tag':
      return substitute(text, escapeTagValue);
    case 'handler':
      return substitute(text, (value) => escapeTagValue(escapeScriptString(value)));
    case 'styleAttribute':
      return substitute(text, (value) => escapeTagValue(escapeCss(value)));
    case 'srcdoc':
      return substitute(text, (value) => escapeTagValue(escapeTagValue(value)));
    case 'bogus': {
      const substituted = substitute(text, (value) =>
        value.replaceAll('>', '&gt;').replace(/^[-[]/, (first) => `&#${first.charCodeAt(0)};`),
      );
      // An empty value can bring the text's own `--` or `[` to its start, as a value's can.
      if (!text.startsWith('--') && substituted.startsWith('--')) return `&#45;${substituted.slice(1)}`;
      if (!text.startsWith('[') && substituted.startsWith('[')) return `&#91;${substituted.slice(1)}`;
      return substituted;
    }
    case 'script':
      return substitute(text, escapeScriptString);
    case 'style':
      return substitute(text, escapeCss);
    case 'cdata':
      return cdataText(text, substitute);
    case 'comment':
      return commentText(text, substitute);
    case 'pi':
      return piText(text, substitute(text, xmlCharacters));
  }
}

/**
 * The substituted text of a CDATA section. The section's own text holds no `]]>` (it ended at the
 * first), so each one the substitution makes, within a value or where one meets the text around
 * it, is the values': it is split across two sections. A CR in a value (which a parser would read
 * as a line feed, in CDATA too) is written as a reference between two sections; the section's own
 * CRs, from the DSP's line breaks, are left as they are.
 */
function cdataText(text: string, substitute: RegionSubstitution): string {
  // Marks the values' CRs: no value holds it once XML-forbidden characters are percent-encoded.
  // (A section that holds it already is ill-formed; its values' CRs are left as they are.)
  const marked = !text.includes(VALUE_MARK);
  const substituted = substitute(text, (value) => {
    const xmlSafe = xmlCharacters(value);
    return marked ? xmlSafe.replaceAll('\r', VALUE_MARK) : xmlSafe;
  }).replaceAll(CDATA_END, CDATA_SPLIT);
  return marked ? substituted.replaceAll(VALUE_MARK, CDATA_CR) : substituted;
}

/**
 * The substituted text of a comment, with no `--` (which makes an XML comment ill-formed, and ends
 * an HTML one before `>` or `!>`) made by a value's hyphen with the text's or with another, and no
 * `-->`, `--!>`, final `-` or leading `>` or `->` made by the values (or by an empty value bringing
 * the text's characters together): the hyphens are spaced out, a `>` spaced off. What the text holds
 * of its own is kept as it is.
 */
function commentText(text: string, substitute: RegionSubstitution): string {
  // In a text that holds a mark already, every shape counts as the values'.
  if (text.includes(VALUE_MARK) || text.includes(VALUE_BOUNDARY)) {
    return unbrokenComment(substitute(text, xmlCharacters), () => true);
  }
  const marked = substitute(
    text,
    (value) => `${VALUE_BOUNDARY}${xmlCharacters(value).replaceAll('-', VALUE_MARK)}${VALUE_BOUNDARY}`,
  );
  return unbrokenComment(marked, (shape) => MARKED.test(shape))
    .replaceAll(VALUE_BOUNDARY, '')
    .replaceAll(VALUE_MARK, '-');
}

/** A value's hyphen or the edge of a value, in a comment's marked text. */
const MARKED = /[\uFFFE\uFFFF]/;

/**
 * `text` (a comment's, its values' hyphens marked and the values bounded) with each hyphen pair,
 * `-->` or `--!>`, final `-` and leading `>` or `->` that `madeByValues` says the values made
 * broken up.
 */
function unbrokenComment(text: string, madeByValues: (shape: string) => boolean): string {
  return text
    .replace(/[-\uFFFF](?=(\uFFFE*[-\uFFFF]))/g, (hyphen, next: string) =>
      madeByValues(hyphen + next) ? `${hyphen} ` : hyphen,
    )
    .replace(/[-\uFFFF]\uFFFE*[-\uFFFF]\uFFFE*(?:!\uFFFE*)?>/g, (end) =>
      madeByValues(end) ? `${end.slice(0, -1)} >` : end,
    )
    .replace(/[-\uFFFF]\uFFFE*$/, (last) => (madeByValues(last) ? `${last} ` : last))
    .replace(/^\uFFFE*(?:[-\uFFFF]\uFFFE*)?>/, (first) => (madeByValues(first) ? ` ${first}` : first));
}

/** The substituted text of a PI, with a `?>` the values made broken up. */
function piText(original: string, substituted: string): string {
  return original.includes('?>') ? substituted : substituted.replaceAll('?>', '? >');
}

/**
 * The regions of XML markup: CDATA sections, comments and PIs (their content, delimiters
 * excluded), and everything else. One that never ends runs to the end of the markup.
 */
function xmlRegions(xml: string): Region[] {
  const regions: Region[] = [];
  let copied = 0;
  const skipped = (open: string, close: string, kind: RegionKind, at: number): number => {
    const contentStart = at + open.length;
    const contentEnd = xml.indexOf(close, contentStart);
    const end = contentEnd === -1 ? xml.length : contentEnd;
    regions.push({ kind: 'xml', start: copied, end: contentStart }, { kind, start: contentStart, end });
    copied = end;
    return contentEnd === -1 ? xml.length : end + close.length;
  };
  for (let at = xml.indexOf('<'); at !== -1 && at < xml.length; at = xml.indexOf('<', at)) {
    if (xml.startsWith(CDATA_START, at)) at = skipped(CDATA_START, CDATA_END, 'cdata', at);
    else if (xml.startsWith('<!--', at)) at = skipped('<!--', '-->', 'comment', at);
    else if (xml.startsWith('<?', at)) at = skipped('<?', '?>', 'pi', at);
    else at += 1;
  }
  regions.push({ kind: 'xml', start: copied, end: xml.length });
  return regions;
}
