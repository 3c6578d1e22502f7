/**
 * The wording of why a VAST document is refused, or served with a warning: what fast-xml-parser's
 * validator found wrong in it, and what it lets through that strict parsers (a browser's) refuse.
 */
import type { XMLValidator } from 'fast-xml-parser';
import { cutAt } from '../lib/shown.js';
import { skipConstruct } from './vast-scan.js';

/** Why fast-xml-parser's validator refuses a document. */
export type XmlValidationError = Exclude<ReturnType<typeof XMLValidator.validate>, true>;

/** Most characters of the XML parser's message a warning repeats. */
const MAX_XML_ERROR_CHARS = 160;
/** Most names of tags never closed that a warning lists, and most characters of each. */
const MAX_UNCLOSED_TAGS_LISTED = 5;
const MAX_TAG_NAME_CHARS = 40;

/** Why the validator refused the document, as a clause: `it is not well-formed XML (…)`. */
export function describeXmlError(validation: XmlValidationError): string {
  const { msg, line, col } = validation.err;
  // The parser places tags never closed at line 1, column 1 whatever their place: no position.
  const unclosed = unclosedTags(msg);
  if (unclosed !== undefined) return `it is not well-formed XML (${unclosed})`;
  const cut = msg.length > MAX_XML_ERROR_CHARS ? `${cutAt(msg, MAX_XML_ERROR_CHARS)}…` : msg;
  return `it is not well-formed XML (${cut} at line ${line}, column ${col})`;
}

/**
 * The parser's message for tags never closed, which lists every one (`Invalid '["VAST", "Ad", …]'
 * found.`, as long as the document for a truncated one), as a short sentence; undefined for
 * another message.
 */
function unclosedTags(msg: string): string | undefined {
  const list = /^Invalid '(\[[\s\S]*\])' found\.$/.exec(msg)?.[1];
  if (list === undefined) return undefined;
  let names: unknown;
  try {
    names = JSON.parse(list);
  } catch {
    return undefined;
  }
  if (!Array.isArray(names)) return undefined;
  const cut = (name: string) =>
    name.length > MAX_TAG_NAME_CHARS ? `${cutAt(name, MAX_TAG_NAME_CHARS)}…` : name;
  const listed = names.slice(0, MAX_UNCLOSED_TAGS_LISTED).map((name) => cut(String(name)));
  const more = names.length - listed.length;
  return `${names.length} tags are never closed: ${listed.join(', ')}${more > 0 ? `, and ${more} more` : ''}`;
}

/** An `&` and what follows it, when it is a reference XML defines (without a DTD). */
const DEFINED_REFERENCE = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/y;
/** An `&` and what follows it, when it is an entity reference of any name. */
const ENTITY_REFERENCE = /&[^\s&;<>"']+;/y;
const MARKUP_OR_REFERENCE = /[<&]/g;
/** A start tag's name and its quoted attributes, up to where it ends or stops being one. */
const START_TAG_ATTRIBUTES = /<[^\s/>!?<]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*/y;

/**
 * What fast-xml-parser's validator lets through and strict parsers (a browser's) refuse, at the
 * offset `at` in the markup: an `&` that is no reference XML defines (`reference`: a bare `&`, or
 * an entity such as `&nbsp;` that only a DTD can declare), or a `<` inside an attribute value
 * (`less_than`).
 */
export interface StrictParserRefusal {
  kind: 'reference' | 'less_than';
  at: number;
}

/**
 * The first {@link StrictParserRefusal} outside comments, CDATA sections, PIs and declarations
 * (any entity name passes in a document with a DOCTYPE, which may declare it); `undefined` when
 * there is none.
 */
export function strictParserRefusal(xml: string): StrictParserRefusal | undefined {
  let declaresEntities = false;
  MARKUP_OR_REFERENCE.lastIndex = 0;
  for (let found = MARKUP_OR_REFERENCE.exec(xml); found; found = MARKUP_OR_REFERENCE.exec(xml)) {
    const at = found.index;
    if (xml[at] === '<') {
      const end = skipConstruct(xml, at);
      if (end === -1) return undefined;
      if (end !== undefined) {
        declaresEntities ||= /^<!DOCTYPE/i.test(xml.slice(at, at + 9));
        MARKUP_OR_REFERENCE.lastIndex = end;
        continue;
      }
      const lessThan = lessThanInAttributeValue(xml, at);
      if (lessThan !== undefined) return { kind: 'less_than', at: lessThan };
      continue;
    }
    const reference = declaresEntities ? ENTITY_REFERENCE : DEFINED_REFERENCE;
    reference.lastIndex = at;
    if (!reference.test(xml)) return { kind: 'reference', at };
  }
  return undefined;
}

/** Where the first `<` inside a quoted attribute value of the start tag at `at` is, if any. */
function lessThanInAttributeValue(xml: string, at: number): number | undefined {
  START_TAG_ATTRIBUTES.lastIndex = at;
  const tag = START_TAG_ATTRIBUTES.exec(xml)?.[0];
  const inside = tag === undefined ? -1 : tag.indexOf('<', 1);
  return inside === -1 ? undefined : at + inside;
}

/** What a {@link StrictParserRefusal} is, where it stands and what to write instead. */
export function describeRefusal(xml: string, { kind, at }: StrictParserRefusal): string {
  const before = xml.slice(0, at);
  const place = `line ${before.split('\n').length}, column ${at - before.lastIndexOf('\n')}`;
  if (kind === 'less_than') return `a < inside an attribute value at ${place}: write &lt;`;
  ENTITY_REFERENCE.lastIndex = at;
  const entity = ENTITY_REFERENCE.exec(xml)?.[0];
  return entity === undefined || entity.length > MAX_TAG_NAME_CHARS
    ? `a bare & at ${place}: write &amp;`
    : `${entity}, an entity XML does not define, at ${place}: write the character, or a numeric reference such as &#160;`;
}

/** The warning for well-formed input that strict parsers refuse: Tally's trackers were added. */
export function strictParserRefusalWarning(xml: string, refusal: StrictParserRefusal): string {
  return `VAST input: it is not well-formed XML (${describeRefusal(xml, refusal)}), which strict XML parsers, as many players use, refuse: Tally's trackers were added all the same`;
}

/** The warning for input that is not well-formed: Tally's trackers went only where it was safe. */
export function malformedInputWarning(validation: XmlValidationError): string {
  return `VAST input: ${describeXmlError(validation)}; Tally's trackers were inserted only after cleanly read tags inside each <InLine>/<Wrapper>`;
}
