/**
 * VAST instrumentation: Tally's `<Impression>` and `<Error>` trackers go into every `<InLine>` and
 * `<Wrapper>` of a VAST document, by inserting text at positions found by a scan of the markup.
 * The document is never rebuilt through a parser, so formatting, comments and CDATA stay as the
 * DSP wrote them: the output is the input plus Tally's elements, byte for byte.
 *
 * Input that is not well-formed XML (common in the wild, and in the OpenRTB spec's own example) is
 * instrumented only when it can be done safely — see {@link instrumentVast}.
 */
import { XMLValidator } from 'fast-xml-parser';
import { cdataSection } from './markup-escape.js';
import { adElementsPairUp, hasEmptyAdElement, readAdElements } from './vast-ad-elements.js';
import type { AdElement } from './vast-ad-elements.js';
import { errorSchemaOf, isNoAdResponse, isVast1 } from './vast-document.js';
import type { ErrorSchema } from './vast-document.js';
import {
  describeRefusal,
  describeXmlError,
  malformedInputWarning,
  strictParserRefusal,
  strictParserRefusalWarning,
} from './vast-refusals.js';
import { prefixOf, scanMarkup, whitespaceAt } from './vast-scan.js';

/** Tally's tracker URLs for one impression. */
export interface VastTrackers {
  /** Fired by the player when the impression happens. */
  impressionUrl: string;
  /** Fired by the player on an error; already contains the literal `[ERRORCODE]` macro. */
  errorUrl: string;
}

/**
 * The outcome of {@link instrumentVast}. On success, `adCount` is the number of `<InLine>` and
 * `<Wrapper>` elements instrumented and `warnings` says what was unusual about the input. On
 * failure, `markup` is the input, untouched, `warning` says why, and `noAd` whether the input is a
 * VAST no-ad response, on which no impression can happen.
 */
type VastResult =
  | { ok: true; markup: string; adCount: number; warnings: string[] }
  | { ok: false; markup: string; warning: string; noAd: boolean };

/** Where to insert Tally's elements in one `<InLine>` or `<Wrapper>`. */
interface InsertionPlan {
  /** The element's end tag was reached through properly nested markup. */
  closedCleanly: boolean;
  insertions: Insertion[];
  /** Tally's `<Error>` is among the insertions (its schema may allow no more). */
  addsError: boolean;
}

interface Insertion {
  /** Offset in the input right after a `>`; the text goes there. */
  at: number;
  text: string;
}

const NO_AD_WARNING =
  'the VAST is a no-ad response (its root element holds no <Ad>): a player plays nothing, so no impression can happen';
const EMPTY_AD_WARNING =
  'the <Ad> elements of the root element hold no <InLine> or <Wrapper> with content, only an empty one (<InLine/>): no ad a player can play, nor an <Impression>';
const ERROR_NOT_ADDED_WARNING =
  "an ad already has the one <Error> its VAST version (2.0 or 3.0) allows: Tally's error URL (noticeUrls.vast_error) was not added to it";
const VAST_1_ERROR_NOT_ADDED_WARNING =
  "a VAST 1.0 ad already has an <Error>, written with no <URL> list that could take Tally's error URL (noticeUrls.vast_error): it was not added to it";

/**
 * Adds `<Impression>` and `<Error>` with Tally's URLs (in CDATA) to every `<InLine>` and `<Wrapper>`
 * of a VAST document (2.0 to 4.x; in a VAST 1.0 document, each URL in a `<URL>` of such an element,
 * as VAST 1.0 lists them, or of the ad's own list where it has one: see {@link planInsertions}). Tag
 * names match case-insensitively, with or without a namespace prefix (Tally's elements reuse the
 * prefix); only an `<InLine>` or `<Wrapper>` child of an `<Ad>` child of the root is an ad, never
 * one in an `<Extension>` (a whole VAST document nested there included), which is left as it came.
 * The `<Impression>` goes right after the last existing one; the `<Error>` where the schema of the
 * document's VAST version reads it: in VAST 4, after the last `<Error>`, else after `<AdSystem>`;
 * otherwise right before the first `<Impression>`, and not at all in a VAST 2.0 or 3.0 ad that has
 * an `<Error>` already (their schemas allow one; a warning says so). With no `<Impression>`, both go
 * after the last `<Error>`, else after `<AdSystem>`, else right after the opening tag. Empty
 * (`<InLine/>`) elements are not ads and are left alone (a document with no other is left untouched
 * with a warning saying so).
 *
 * Well-formed input (per fast-xml-parser's validator) gives well-formed output, checked again.
 *
 * Input that is not well-formed is instrumented only when it is safe, which means all of:
 * every comment, CDATA section and PI ends; every `<InLine>`/`<Wrapper>` opening tag is a clean
 * XML start tag; opening and closing tags (`</InLine>`, or a sloppy `< /InLine>`) alternate one to
 * one, so each element and its end are found unambiguously; and Tally's elements go only right
 * after the opening tag or after a child that is reached through properly nested markup from it.
 * Tally's elements are then direct children of the element for any parser that reads the original
 * one, and add no new error. The result carries a warning that the input was not well-formed.
 *
 * Otherwise, and when no `<InLine>` or `<Wrapper>` is found, the markup is returned untouched with
 * a warning. White space before an XML declaration, which no XML parser reads, is taken off the
 * markup Tally instruments, with a warning. Never throws.
 */
export function instrumentVast(xml: string, trackers: VastTrackers): VastResult {
  // White space before the XML declaration, as DSPs' templates often leave, makes strict parsers
  // (a browser's DOMParser, libxml2) refuse the whole document: it is taken off the markup Tally
  // instruments, and the markup it cannot instrument is served as it came.
  const declared = SPACE_BEFORE_DECLARATION.exec(xml);
  if (declared === null) return instrumentVastText(xml, trackers);
  const result = instrumentVastText(`${declared[1] ?? ''}${xml.slice(declared[0].length)}`, trackers);
  if (!result.ok) return { ...result, markup: xml };
  return { ...result, warnings: [SPACE_BEFORE_DECLARATION_WARNING, ...result.warnings] };
}

/** A document's white space before its XML declaration, after a byte order mark (group 1) if any. */
const SPACE_BEFORE_DECLARATION = /^(\uFEFF?)[ \t\r\n]+(?=<\?xml[ \t\r\n])/;
const SPACE_BEFORE_DECLARATION_WARNING =
  'VAST markup began with white space before its XML declaration (<?xml … ?>), which XML allows only at the very start of a document: strict parsers, such as the DOMParser of the browsers web players run in, refuse the document, so that the ad would not play: Tally served it without that white space';

function instrumentVastText(xml: string, trackers: VastTrackers): VastResult {
  const tokens = scanMarkup(xml);
  const adElements = readAdElements(tokens);
  if (adElements.length === 0) {
    if (isNoAdResponse(tokens)) return { ok: false, markup: xml, warning: NO_AD_WARNING, noAd: true };
    if (hasEmptyAdElement(tokens)) return untouched(xml, EMPTY_AD_WARNING);
    return untouched(
      xml,
      'no <InLine> or <Wrapper> element found in an <Ad> of the root element, as a VAST document has its ads (outside comments and CDATA)',
    );
  }
  const validation = XMLValidator.validate(xml);
  const wellFormed = validation === true;
  const errors = errorSchemaOf(xml, tokens);
  const urlLists = isVast1(tokens);
  const plans = adElements.map((adElement) => planInsertions(xml, adElement, trackers, errors, urlLists));
  const locatable = wellFormed ? plans.every((plan) => plan.closedCleanly) : adElementsPairUp(tokens);
  const refusal = validation === true ? strictParserRefusal(xml) : undefined;
  if (!locatable) {
    const problem =
      validation !== true
        ? describeXmlError(validation)
        : refusal?.kind === 'less_than'
          ? `it is not well-formed XML (${describeRefusal(xml, refusal)})`
          : 'its markup could not be read cleanly';
    return untouched(
      xml,
      `VAST not instrumented: ${problem}, and its <InLine>/<Wrapper> elements cannot be located unambiguously`,
    );
  }
  const markup = applyInsertions(
    xml,
    plans.flatMap((plan) => plan.insertions),
  );
  if (wellFormed && XMLValidator.validate(markup) !== true) {
    return untouched(xml, 'VAST not instrumented: the instrumented document would not be well-formed XML');
  }
  const warnings = [
    ...(validation === true ? [] : [malformedInputWarning(validation)]),
    ...(refusal === undefined ? [] : [strictParserRefusalWarning(xml, refusal)]),
    ...(plans.every((plan) => plan.addsError)
      ? []
      : [urlLists ? VAST_1_ERROR_NOT_ADDED_WARNING : ERROR_NOT_ADDED_WARNING]),
  ];
  return { ok: true, markup, adCount: adElements.length, warnings };
}

/**
 * A VAST 3.0 document with one `<Wrapper>` whose `<VASTAdTagURI>` is the URL the DSP serves its
 * VAST from (its win notice URL, or a VAST tag URL it sent as its markup), carrying Tally's
 * `<Error>` and `<Impression>`.
 */
export function wrapNurlInVast(nurl: string, trackers: VastTrackers): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<VAST version="3.0">',
    '  <Ad>',
    '    <Wrapper>',
    '      <AdSystem>Tally</AdSystem>',
    `      <VASTAdTagURI>${cdataSection(nurl)}</VASTAdTagURI>`,
    `      ${trackerElement('', 'Error', trackers.errorUrl)}`,
    `      ${trackerElement('', 'Impression', trackers.impressionUrl)}`,
    '      <Creatives></Creatives>',
    '    </Wrapper>',
    '  </Ad>',
    '</VAST>',
    '',
  ].join('\n');
}

/**
 * Where Tally's `<Error>` and `<Impression>` go inside one `<InLine>` or `<Wrapper>`: the
 * `<Impression>` after the last one, the `<Error>` where the version's schema reads it (`errors`),
 * none where it allows no more. With `urlLists` (VAST 1.0), each holds its URL in a `<URL>`, as
 * VAST 1.0's do, and Tally's URL goes as one more `<URL>` into the last `<Impression>` and the
 * `<Error>` of the ad that hold such a list, in place of an element of its own.
 */
function planInsertions(
  xml: string,
  { opening, anchors }: AdElement,
  trackers: VastTrackers,
  errors: ErrorSchema,
  urlLists: boolean,
): InsertionPlan {
  const separator = childSeparator(xml, opening.end);
  const prefix = prefixOf(opening.name);
  const errorList = urlLists ? anchors.errorListEnd : undefined;
  const impressionList = urlLists ? anchors.impressionListEnd : undefined;
  const addsError =
    errorList !== undefined || errors !== 'oneBeforeImpression' || anchors.lastErrorEnd === undefined;
  const error =
    addsError && errorList === undefined
      ? separator + trackerElement(prefix, 'Error', trackers.errorUrl, urlLists)
      : '';
  const impression =
    impressionList === undefined
      ? separator + trackerElement(prefix, 'Impression', trackers.impressionUrl, urlLists)
      : '';
  const inLists = [
    ...(errorList === undefined ? [] : [{ at: errorList, text: urlElement(prefix, trackers.errorUrl) }]),
    ...(impressionList === undefined
      ? []
      : [{ at: impressionList, text: urlElement(prefix, trackers.impressionUrl) }]),
  ];
  const { beforeFirstImpression, lastImpressionEnd } = anchors;
  const insertions =
    lastImpressionEnd !== undefined && beforeFirstImpression !== undefined
      ? [
          {
            at:
              errors === 'vast4'
                ? (anchors.lastErrorEnd ?? anchors.adSystemEnd ?? beforeFirstImpression)
                : beforeFirstImpression,
            text: error,
          },
          { at: lastImpressionEnd, text: impression },
        ]
      : [{ at: anchors.lastErrorEnd ?? anchors.adSystemEnd ?? opening.end, text: error + impression }];
  return { closedCleanly: anchors.closedCleanly, insertions: [...insertions, ...inLists], addsError };
}

/** The line break and indentation that precede the element's first child, so ours line up. */
function childSeparator(xml: string, openingEnd: number): string {
  const leadingSpace = whitespaceAt(xml, openingEnd);
  const lastBreak = leadingSpace.lastIndexOf('\n');
  if (lastBreak === -1) return '';
  const lineBreak = leadingSpace.includes('\r\n') ? '\r\n' : '\n';
  return lineBreak + leadingSpace.slice(lastBreak + 1).replace(/[^ \t]/g, '');
}

/** Tally's `<Impression>` or `<Error>`, its URL in a `<URL>` with `urlLists` (VAST 1.0's form). */
function trackerElement(prefix: string, name: 'Impression' | 'Error', url: string, urlLists = false): string {
  const content = urlLists ? urlElement(prefix, url) : cdataSection(url);
  return `<${prefix}${name}>${content}</${prefix}${name}>`;
}

/** A `<URL>` of a VAST 1.0 `<Impression>` or `<Error>` list. */
function urlElement(prefix: string, url: string): string {
  return `<${prefix}URL>${cdataSection(url)}</${prefix}URL>`;
}

function applyInsertions(xml: string, insertions: readonly Insertion[]): string {
  const ordered = [...insertions].sort((a, b) => a.at - b.at);
  let output = '';
  let copied = 0;
  for (const { at, text } of ordered) {
    output += xml.slice(copied, at) + text;
    copied = at;
  }
  return output + xml.slice(copied);
}

function untouched(xml: string, warning: string): VastResult {
  return { ok: false, markup: xml, warning, noAd: false };
}
