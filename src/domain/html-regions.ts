import { ForeignContent } from './foreign-content.js';
import type { TagAttribute } from './foreign-content.js';

/** A stretch of HTML markup, and how a browser reads it. */
export interface HtmlRegion {
  /**
   * - `markup`: text;
   * - `tag`: a start or end tag, with its attribute values (in which a `<` or `</body>` is text),
   *   or a bogus comment opened by `</` and no letter;
   * - `comment`: the content of a comment;
   * - `cdata`: the content of a CDATA section in SVG or MathML content, which `]]>` ends;
   * - `value`: the value of an attribute read again as something else once its character
   *   references are read: an event handler (`on…`, a script), a `javascript:` URL (a script, once
   *   percent-decoded), a `style`, an iframe's `srcdoc` (a document); `name` is the attribute's;
   * - `bogus`: the content of a bogus comment (`<!…>`, `<?…>`, a doctype too), which the first `>`
   *   ends;
   * - `raw`: the content of a raw-text element such as `<script>` or `<style>`, read as it stands,
   *   without character references;
   * - `rcdata`: the content of `<textarea>` or `<title>`: text up to the element's end tag, in
   *   which character references are read but no tag; also that of `<noscript>`, which a browser
   *   running scripts (any that runs an ad) reads as text up to its end tag, and one that runs
   *   none as HTML, character references and all.
   */
  kind: 'markup' | 'tag' | 'value' | 'comment' | 'cdata' | 'bogus' | 'raw' | 'rcdata';
  start: number;
  end: number;
  /**
   * The element's name, lower-cased: for a `tag` region, the element the tag starts or ends
   * (none for a bogus comment opened by `</`); for a `raw` or `rcdata` region, the element whose
   * content it is; for a `markup` or `cdata` region, the SVG `script` or `style` whose text it is.
   */
  name?: string;
  /** Set on a tag read in SVG or MathML content, where `<template>` or `<plaintext>` is no HTML element. */
  foreign?: true;
  /**
   * Set on a `</body>` end tag read in SVG or MathML content, and on the last region when the
   * markup ends in such content (after its `closer`): the end tags that close that content, after
   * which a tag is read as HTML (in SVG, a `<script>` is SVG's, which loads no `src`).
   */
  foreignCloser?: string;
  /**
   * Set on a `</body>` end tag read where an HTML `<picture>` is the element open innermost (once
   * the SVG or MathML content there is closed), and on the last region when the markup ends so
   * (once what it ends inside is closed): an `<img>` added there would be the picture's own, for
   * which a browser loads one of the picture's `<source>`s instead of its `src`.
   */
  inPicture?: true;
  /**
   * Set on the content of a `<script>` whose type makes it a data block no script or JSON reader
   * reads (`text/template`, `text/html`): read later as HTML, if at all.
   */
  dataBlock?: true;
  /**
   * Set on the last region when the markup ends inside it: what would close it (`-->`,
   * `</script>`, `">` for a start tag that ends inside a quoted attribute value).
   */
  closer?: string;
}

/** Elements whose content is read as text up to their own end tag, without character references. */
const RAW_TEXT_ELEMENTS = new Set(['script', 'style', 'xmp', 'iframe', 'noembed', 'noframes', 'plaintext']);
/**
 * Elements whose content is read as text up to their own end tag, character references included
 * (`<noscript>` where scripts run; where none do, its content is HTML, which escapes the same way).
 */
const RCDATA_ELEMENTS = new Set(['textarea', 'title', 'noscript']);

/**
 * `html` lower-cased letter for letter: `toLowerCase` makes some characters longer ("İ" → "i̇"),
 * which would move every index after them.
 */
function lowerCaseAscii(html: string): string {
  return html.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * The regions of HTML markup as a browser reads it, in order, covering it whole: tags, comments,
 * bogus comments and the content of raw-text and RCDATA elements, between stretches of text. One
 * pass, left to right.
 */
export function htmlRegions(html: string): HtmlRegion[] {
  const lower = lowerCaseAscii(html);
  const regions: HtmlRegion[] = [];
  let copied = 0;
  const foreign = new ForeignContent();
  /** The SVG script or style whose text the reader is in, as a region names it, if any. */
  const foreignText = (): Pick<HtmlRegion, 'name'> => {
    const within = foreign.foreignText;
    return within === undefined ? {} : { name: within };
  };
  /**
   * Adds the text before `end`, naming the SVG script or style it is the text of, if any: to the
   * text found last, when it ends where this begins and names the same, so that the text of a run
   * of `<` that open nothing (`<<<`, `< `) is one region, not one for each `<`.
   */
  const text = (end: number) => {
    if (end <= copied) return;
    const within = foreign.foreignText;
    const last = regions.at(-1);
    if (last?.kind === 'markup' && last.end === copied && last.name === within) {
      last.end = copied = end;
      return;
    }
    regions.push(
      within === undefined
        ? { kind: 'markup', start: copied, end }
        : { kind: 'markup', start: copied, end, name: within },
    );
    copied = end;
  };
  /**
   * Adds the markup before `start`, then the region from `start` to `end` (or to the end of the
   * markup, unclosed), with what it says of its `element`.
   */
  const enclosed: Enclose = (kind, start, end, closer, element) => {
    text(start);
    const region = regionOf(kind, start, end === -1 ? lower.length : end, element);
    if (end === -1) region.closer = closer;
    regions.push(region);
    copied = region.end;
    return end === -1 ? lower.length : end + closer.length;
  };
  /**
   * Adds a start tag from where the regions found so far end to `end` (-1: unclosed, with its
   * closer), the values of its attributes that are read again as something else as `value`
   * regions of their own.
   */
  const startTag = (
    end: number,
    closer: string,
    element: Pick<HtmlRegion, 'name' | 'foreign'>,
    attributes: readonly ReadAttribute[],
  ): number => {
    let piece: Pick<HtmlRegion, 'name' | 'foreign'> = element;
    for (const { name, valueStart, valueEnd } of attributes) {
      if (valueStart === -1) continue;
      if (!REREAD_ATTRIBUTE.test(name) && !holdsJavascriptUrl(name, lower.slice(valueStart, valueEnd)))
        continue;
      enclosed('tag', copied, valueStart, '', piece);
      enclosed('value', valueStart, valueEnd, '', { name });
      // Only the tag's first piece names its element.
      piece = {};
    }
    return enclosed('tag', copied, end, closer, piece);
  };
  for (let at = lower.indexOf('<'); at !== -1 && at < lower.length; at = lower.indexOf('<', at)) {
    // Before what comes next changes which elements are open.
    text(at);
    if (lower.startsWith('<!--', at)) {
      const { end, closer } = commentEnd(lower, at + 4);
      at = enclosed('comment', at + 4, end, closer);
      continue;
    }
    if (foreign.cdataAllowed && lower.startsWith(CDATA_START, at)) {
      at = enclosed('cdata', at + CDATA_START.length, lower.indexOf(']]>', at), ']]>', foreignText());
      continue;
    }
    if (lower.startsWith('<!', at) || lower.startsWith('<?', at)) {
      at = enclosed('bogus', at + 2, lower.indexOf('>', at + 2), '>');
      continue;
    }
    if (lower.startsWith('</', at)) {
      at = endTag(lower, at, enclosed, foreign);
      continue;
    }
    const name = tagName(lower, at + 1);
    if (name === undefined) {
      at += 1;
      continue;
    }
    const { end: tagEnd, openQuote, selfClosing, attributes } = startTagEnd(lower, at + 1 + name.length);
    const inForeign = foreign.startTag(name, attributes, selfClosing);
    // In SVG and MathML content no element's content is text.
    const element = inForeign ? { name, foreign: true as const } : { name };
    const kind = inForeign ? undefined : textContentKind(name);
    if (tagEnd === -1) {
      // The markup ends inside the start tag: what follows would be read as its attributes, and
      // then as the element's text if its content is text.
      const closer = `${openQuote ?? ''}>${kind === undefined || name === 'plaintext' ? '' : `</${name}>`}`;
      at = startTag(-1, closer, element, attributes);
      continue;
    }
    at = startTag(tagEnd, '', element, attributes);
    if (kind === undefined) continue;
    const content =
      name === 'plaintext'
        ? { end: -1, closer: '' }
        : name === 'script'
          ? scriptEnd(lower, tagEnd)
          : { end: tagOf(lower, `</${name}`, tagEnd), closer: `</${name}>` };
    const type = attributes.find((attribute) => attribute.name === 'type')?.value;
    const dataBlock = name === 'script' && isDataBlock(type) ? { dataBlock: true as const } : {};
    at = enclosed(kind, tagEnd, content.end, content.closer, { name, ...dataBlock });
    // The end tag itself, closed first should the markup end inside it.
    if (content.end !== -1) at = endTag(lower, content.end, enclosed, foreign);
  }
  text(html.length);
  if (regions.length === 0) regions.push({ kind: 'markup', start: 0, end: 0 });
  const last = regions.at(-1);
  if (last !== undefined && foreign.inside) last.foreignCloser = foreign.closingTags;
  // The element whose text or start tag the markup ends inside is closed by the closer.
  const closed = last?.closer === undefined ? undefined : /<\/([^>]+)>$/.exec(last.closer)?.[1];
  if (last !== undefined && foreign.pictureInnermost(closed)) last.inPicture = true;
  return regions;
}

/**
 * A region of `kind` from `start` to `end`, with what `element` says of its element. (Written out,
 * not `{ ...element }`, and with the name it nearly always has in the literal: spreading an object
 * into each of hundreds of thousands of regions, or adding properties to each afterwards, made
 * reading markup of many tags or comments several times slower.)
 */
function regionOf(kind: HtmlRegion['kind'], start: number, end: number, element?: RegionElement): HtmlRegion {
  const name = element?.name;
  const region: HtmlRegion = name === undefined ? { kind, start, end } : { kind, start, end, name };
  if (element === undefined) return region;
  const { foreign, dataBlock, foreignCloser, inPicture } = element;
  if (foreign !== undefined) region.foreign = foreign;
  if (inPicture !== undefined) region.inPicture = inPicture;
  if (dataBlock !== undefined) region.dataBlock = dataBlock;
  if (foreignCloser !== undefined) region.foreignCloser = foreignCloser;
  return region;
}

/** Attributes whose values are read again once their character references are: see `value` regions. */
const REREAD_ATTRIBUTE = /^(?:on.+|style|srcdoc)$/;

/**
 * Whether an attribute's value, lower-cased, is a `javascript:` URL, or, for an SVG animation's
 * `values`, a list of values separated by `;` one of which is.
 */
function holdsJavascriptUrl(name: string, value: string): boolean {
  return name === 'values'
    ? withReferencesRead(value).split(';').some(isJavascriptUrl)
    : isJavascriptUrl(value);
}

/**
 * Whether a value, lower-cased, is a `javascript:` URL, which a browser runs as a script once it
 * has read its character references and percent-decoded it (leading spaces and controls, and tabs
 * and line breaks anywhere, are dropped from a URL first).
 */
function isJavascriptUrl(value: string): boolean {
  return withReferencesRead(value)
    .replace(/^[\0-\x20]+|[\t\n\r]/g, '')
    .startsWith('javascript:');
}

/**
 * A lower-cased attribute value with the character references that can spell a URL's scheme or a
 * script's type read as a browser reads them: numeric ones, with any number of leading zeros (NUL
 * and what lies past U+10FFFF as U+FFFD), and `&colon;`, `&tab;`, `&newline;`; the other named
 * ones as they stand (none names an ASCII letter).
 */
function withReferencesRead(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(/&#x([0-9a-f]+);?|&#(\d+);?|&(colon|tab|newline);/g, (_, hex, decimal, named) => {
    if (named !== undefined) return NAMED_SCHEME_CHARACTERS[named as string] ?? '';
    const code = hex !== undefined ? parseInt(hex as string, 16) : Number(decimal);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
  });
}

const NAMED_SCHEME_CHARACTERS: Readonly<Record<string, string>> = { colon: ':', tab: '\t', newline: '\n' };

/**
 * Whether a `<script>`'s `type` (lower-cased, as written; none for a script without one) makes it
 * a data block rather than a script: no JavaScript reads its text (a template, say), and no JSON
 * reader either. (JSON types are data blocks too, but read `\uXXXX` escapes as scripts do.) A type
 * holding a named character reference Tally does not read is taken for a script's: escaped as one,
 * a value is safe whatever the browser makes of it.
 */
function isDataBlock(type: string | undefined): boolean {
  const read = withReferencesRead(type ?? '');
  if (/&[a-z]/.test(read)) return false;
  const essence = read.split(';')[0]?.trim() ?? '';
  if (essence === '' || essence === 'module') return false;
  if (
    /^(?:text|application)\/(?:x-)?(?:java|ecma)script$|^text\/(?:jscript|livescript|javascript1\.[0-5])$/.test(
      essence,
    )
  )
    return false;
  return !/(?:^|[/+])json$|^importmap$|^speculationrules$/.test(essence);
}

/** How the content of an HTML element is read, if it is read as text: `raw` or `rcdata`. */
function textContentKind(name: string): 'raw' | 'rcdata' | undefined {
  if (RAW_TEXT_ELEMENTS.has(name)) return 'raw';
  return RCDATA_ELEMENTS.has(name) ? 'rcdata' : undefined;
}

/** What a region says of the element it belongs to. */
type RegionElement = Pick<HtmlRegion, 'name' | 'foreign' | 'dataBlock' | 'foreignCloser' | 'inPicture'>;

/** Adds a region to those found, and says where to go on. */
type Enclose = (
  kind: HtmlRegion['kind'],
  start: number,
  end: number,
  closer: string,
  element?: RegionElement,
) => number;

/** What opens a CDATA section, in SVG or MathML content (elsewhere, a bogus comment). */
const CDATA_START = '<![cdata[';

/** A tag's name: a letter, then anything up to HTML's white space, `/` or `>`. */
const TAG_NAME = /[A-Za-z][^\t\n\f\r />]*/y;

/**
 * The name of the tag whose name begins at `from` (after `<` or `</`) in `markup`, as written (in
 * the case of `markup`, lower-cased or not), if a letter begins it.
 */
function tagName(markup: string, from: number): string | undefined {
  TAG_NAME.lastIndex = from;
  return TAG_NAME.exec(markup)?.[0];
}

/** What ends a comment: `-->`, or `--!>`. */
const COMMENT_CLOSER = /--!?>/g;

/**
 * Where a comment whose content begins at `from` ends, and what ends it, as a browser reads it:
 * `<!-->` and `<!--->` are empty comments, and `--!>` ends one as `-->` does; -1 (with `-->`,
 * what would close it) when it never ends. Reads only up to the first of the two: looking for
 * each to the markup's end made a markup of many comments take time quadratic in its size.
 */
function commentEnd(lower: string, from: number): { end: number; closer: string } {
  for (const abrupt of ['>', '->']) if (lower.startsWith(abrupt, from)) return { end: from, closer: abrupt };
  COMMENT_CLOSER.lastIndex = from;
  const closer = COMMENT_CLOSER.exec(lower);
  return closer === null ? { end: -1, closer: '-->' } : { end: closer.index, closer: closer[0] };
}

/**
 * Where the tag that begins `<name` or `</name` (`opening`) first begins, from `from` on, or -1:
 * `opening` followed by a space, `/`, `>` or the end of the markup (`</scripts>` ends no script).
 */
function tagOf(lower: string, opening: string, from: number): number {
  for (let at = lower.indexOf(opening, from); at !== -1; at = lower.indexOf(opening, at + 1)) {
    const next = lower.charAt(at + opening.length);
    if (next === '' || /[\t\n\f\r />]/.test(next)) return at;
  }
  return -1;
}

/** What changes how a script's text is read: comment delimiters, and `<script` and `</script` tags. */
const SCRIPT_TOKENS = /<!--|-->|<(\/?)script(?=[\t\n\f\r />]|$)/g;

/**
 * Where the end tag of a script whose content begins at `from` begins, as a browser reads it:
 * inside a `<!--` not yet closed by `-->`, a `<script` tag opens text in which `</script>` only
 * ends that nested script, not this one (the old `<!-- document.write("<script …></script>")
 * //-->` ad tags). -1 when it never ends, with what would end it: `</script>`, after a `-->`
 * inside such a nested script. One pass.
 */
function scriptEnd(lower: string, from: number): { end: number; closer: string } {
  const tokens = new RegExp(SCRIPT_TOKENS);
  tokens.lastIndex = from;
  let state: 'data' | 'escaped' | 'nested' = 'data';
  for (let match = tokens.exec(lower); match !== null; match = tokens.exec(lower)) {
    const [token, slash] = match;
    if (token === '<!--') {
      if (state === 'data') state = 'escaped';
      // Its dashes may end it too, as `<!-->` does.
      tokens.lastIndex = match.index + 2;
    } else if (token === '-->') state = 'data';
    else if (slash === '/') {
      if (state !== 'nested') return { end: match.index, closer: '</script>' };
      state = 'escaped';
    } else if (state === 'escaped') state = 'nested';
  }
  return { end: -1, closer: state === 'nested' ? '--></script>' : '</script>' };
}

/**
 * Reads the end tag (or what a browser reads in its place) at `at`, a `</`, as a `tag` region, and
 * says where to go on. One the markup ends in (`</div`) would take what follows as its name and
 * attributes, and a `</` followed by no letter starts a bogus comment up to the next `>` (or, at
 * the very end, takes what follows as one): both get their closer.
 */
function endTag(lower: string, at: number, enclosed: Enclose, foreign: ForeignContent): number {
  const name = tagName(lower, at + 2);
  if (name === undefined) {
    // `</>` is dropped by a browser; any other `</` opens a bogus comment, whose values are escaped
    // like a tag's, so that none ends it early.
    if (lower.startsWith('</>', at)) return at + 3;
    const close = lower.indexOf('>', at + 2);
    return close === -1 ? enclosed('tag', at, -1, '>') : enclosed('tag', at, close + 1, '');
  }
  const { end, openQuote } = startTagEnd(lower, at + 2 + name.length);
  const inPicture = name === 'body' && foreign.pictureInnermost() ? { inPicture: true as const } : {};
  const element = !foreign.inside
    ? { name, ...inPicture }
    : name === 'body'
      ? { name, foreign: true as const, foreignCloser: foreign.closingTags, ...inPicture }
      : { name, foreign: true as const };
  foreign.endTag(name);
  return end === -1
    ? enclosed('tag', at, -1, `${openQuote ?? ''}>`, element)
    : enclosed('tag', at, end, '', element);
}

/** Regions whose delimiters (`<!--` and `-->`, `<?` and `>`, `<![CDATA[` and `]]>`) are markup's. */
const DELIMITED = new Set(['comment', 'bogus', 'cdata']);

/**
 * The text of the `markup` region at `index` of `html`'s `regions`, without the delimiters of the
 * comment, bogus comment or CDATA section it closes (the region before it) or opens (the one after).
 */
export function markupText(html: string, regions: readonly HtmlRegion[], index: number): string {
  const region = regions[index];
  if (region === undefined) return '';
  const markup = html.slice(region.start, region.end);
  const opened = DELIMITED.has(regions[index - 1]?.kind ?? '')
    ? markup.replace(/^(?:--!?>|\]\]>|>)/, '')
    : markup;
  return DELIMITED.has(regions[index + 1]?.kind ?? '')
    ? opened.replace(/(?:<!--|<!\[CDATA\[|<!|<\?|<\/)$/, '')
    : opened;
}

/**
 * Whether `region` of `html` is the start tag of an HTML element named `name`: a tag region, no end
 * tag, and none read in SVG or MathML content.
 */
export function isHtmlStartTag(html: string, region: HtmlRegion, name: string): boolean {
  return (
    region.kind === 'tag' &&
    region.name === name &&
    region.foreign !== true &&
    !html.startsWith('</', region.start)
  );
}

/**
 * The attributes of the start tag whose `<` is at `start` in `html`, names and values lower-cased,
 * as a browser reads them: a name inside a quoted value is none.
 */
export function startTagAttributes(html: string, start: number): TagAttribute[] {
  // Where the tag and its attributes end does not depend on case: the tag is read as written and
  // only what it names lower-cased, not the whole markup for each tag.
  const name = tagName(html, start + 1) ?? '';
  return startTagEnd(html, start + 1 + name.length).attributes.map((attribute) => ({
    name: lowerCaseAscii(attribute.name),
    value: lowerCaseAscii(attribute.value),
  }));
}

/** The characters HTML reads as white space between attributes (not U+00A0 and the like). */
const HTML_SPACE = /[\t\n\f\r ]/;

/** An attribute as a start tag is read: its name and value (lower-cased), where its value stands. */
interface ReadAttribute extends TagAttribute {
  /** Where the value begins and ends, quotes excluded; -1 for an attribute without a value. */
  valueStart: number;
  valueEnd: number;
}

/**
 * Where a start tag whose name ends at `from` ends (after its `>`), reading its attributes as a
 * browser does, so that a `>` in a quoted value ends nothing; whether it ends in `/>`; and its
 * attributes. -1 if it never ends, with the quote of the value it ends in, if any. A `=` opens a
 * value only after an attribute's name (`<a ="x>` names an attribute `="x`), and an unquoted value
 * runs to a space or `>`, quotes and all.
 */
function startTagEnd(
  html: string,
  from: number,
): { end: number; openQuote?: string; selfClosing: boolean; attributes: ReadAttribute[] } {
  const attributes: ReadAttribute[] = [];
  let state: 'beforeName' | 'name' | 'afterName' | 'beforeValue' | 'unquoted' = 'beforeName';
  let slash = false;
  let nameStart = from;
  let valueStart = from;
  const nameEnds = (at: number) => {
    const last = attributes.at(-1);
    if (last !== undefined && state === 'name') last.name = html.slice(nameStart, at);
  };
  const valueEnds = (start: number, end: number) => {
    const last = attributes.at(-1);
    if (last !== undefined)
      Object.assign(last, { value: html.slice(start, end), valueStart: start, valueEnd: end });
  };
  for (let at = from; at < html.length; at++) {
    const char = html.charAt(at);
    const space = HTML_SPACE.test(char);
    if (char === '>') {
      nameEnds(at);
      if (state === 'unquoted') valueEnds(valueStart, at);
      return { end: at + 1, selfClosing: slash, attributes };
    }
    slash = false;
    if (state === 'beforeValue') {
      if (char === '"' || char === "'") {
        const close = html.indexOf(char, at + 1);
        valueEnds(at + 1, close === -1 ? html.length : close);
        if (close === -1) return { end: -1, openQuote: char, selfClosing: false, attributes };
        at = close;
        state = 'beforeName';
      } else if (!space) {
        state = 'unquoted';
        valueStart = at;
      }
    } else if (state === 'unquoted') {
      if (space) {
        valueEnds(valueStart, at);
        state = 'beforeName';
      }
    } else if (char === '/') {
      nameEnds(at);
      state = 'beforeName';
      slash = true;
    } else if (space) {
      nameEnds(at);
      if (state === 'name') state = 'afterName';
    } else if (char === '=' && state !== 'beforeName') {
      nameEnds(at);
      state = 'beforeValue';
    } else if (state !== 'name') {
      attributes.push({ name: '', value: '', valueStart: -1, valueEnd: -1 });
      nameStart = at;
      state = 'name';
    }
  }
  nameEnds(html.length);
  if (state === 'unquoted') valueEnds(valueStart, html.length);
  return { end: -1, selfClosing: false, attributes };
}
