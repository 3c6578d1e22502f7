/**
 * The ads of a VAST document, found in the scanned markup: every `<InLine>` and `<Wrapper>` that is
 * one (an element of that name elsewhere is the DSP's data), with what was learnt about its
 * children, where Tally's elements can go; and, for markup that is not well-formed, whether the ads
 * can be located at all.
 */
import { OpenPath } from './vast-open-path.js';
import { localName } from './vast-scan.js';
import type { Token } from './vast-scan.js';

/** What was learnt about an element's children while reading them. */
export interface ChildAnchors {
  closedCleanly: boolean;
  /** End of the last child read so far, or of the opening tag. */
  lastChildEnd: number;
  /** End of the last child before the first `<Impression>`, or of the opening tag. */
  beforeFirstImpression?: number;
  lastImpressionEnd?: number;
  lastErrorEnd?: number;
  adSystemEnd?: number;
  /**
   * Where the end tag of the last `<Impression>` begins, when that element holds a VAST 1.0 list
   * of `<URL>` children (one more goes there); likewise of the last `<Error>`.
   */
  impressionListEnd?: number;
  errorListEnd?: number;
}

/** An `<InLine>` or `<Wrapper>` with content, and what was learnt about its children. */
export interface AdElement {
  opening: Extract<Token, { kind: 'open' }>;
  anchors: ChildAnchors;
}

/** An element open at the current point of {@link readAdElements}'s walk. */
interface OpenElement {
  name: string;
  /** Set for an `<InLine>` or `<Wrapper>`, whose children are being read. */
  anchors?: ChildAnchors;
  /** A `<URL>` is among its children (VAST 1.0's list of URLs in an `<Impression>` or `<Error>`). */
  holdsUrl?: boolean;
}

const AD_ELEMENTS = new Set(['inline', 'wrapper']);

/**
 * Finds every `<InLine>` and `<Wrapper>` with content that is one of the document's ads (see
 * {@link isAdOfDocument}: an element of that name elsewhere, in an `<Extension>` or a VAST document
 * nested in one, is the DSP's data) and reads its children, in one walk over the tokens however
 * many and however nested the elements are. A sloppy end tag (`< /Ad>`) ends its element too. An
 * element's children are read while the markup is properly nested: the reading stops at its end
 * tag, or at the first tag that is sloppy, stray or mismatched (past that point, nesting is
 * guesswork), which also stops the reading of every element around it.
 */
export function readAdElements(tokens: readonly Token[]): AdElement[] {
  const adElements: AdElement[] = [];
  /** The outermost `<InLine>`/`<Wrapper>` being read and the elements open inside it, innermost last. */
  const openElements: OpenElement[] = [];
  /** The local names of every element open, innermost last. */
  const path = new OpenPath();
  for (const token of tokens) {
    if (token.kind === 'open') {
      const name = localName(token.name);
      const parent = openElements.at(-1)?.anchors;
      if (parent && name === 'impression') {
        parent.beforeFirstImpression ??= parent.lastChildEnd;
      }
      // A `<URL>` in a child of the ad (VAST 1.0's list in an `<Impression>` or `<Error>`).
      const child = openElements.at(-1);
      if (name === 'url' && child && openElements.at(-2)?.anchors) child.holdsUrl = true;
      if (token.selfClosing) {
        if (parent) noteChild(parent, token.name, token.end);
        continue;
      }
      const isAd = AD_ELEMENTS.has(name) && isAdOfDocument(path.names);
      path.push(name);
      if (isAd) {
        const anchors = { closedCleanly: false, lastChildEnd: token.end };
        adElements.push({ opening: token, anchors });
        openElements.push({ name: token.name, anchors });
      } else if (openElements.length > 0) {
        openElements.push({ name: token.name });
      }
    } else if (token.kind === 'close') {
      path.close(token.name);
      const element = openElements.pop();
      if (element?.anchors) element.anchors.closedCleanly = element.name === token.name;
      const parent = openElements.at(-1)?.anchors;
      // A mismatched end tag stops every reading; one with nothing open (no reading) changes nothing.
      if (element?.name !== token.name) openElements.length = 0;
      else if (parent) noteChild(parent, token.name, token.end, element.holdsUrl ? token.start : undefined);
    } else {
      if (token.kind === 'loose' && token.closing) path.close(token.name);
      openElements.length = 0;
    }
  }
  return adElements;
}

/**
 * Whether an `<InLine>` or `<Wrapper>` opening inside the elements `path` names (outermost first)
 * is one of the document's ads: its parent is an `<Ad>` child of the root element, the only place
 * the VAST schema has one, and the only one players read. An `<Ad>` anywhere else — in a VAST
 * document nested in an `<Extension>`, or in another ad — is data of the DSP's or a vendor's.
 */
function isAdOfDocument(path: readonly string[]): boolean {
  return path.length === 2 && path[1] === 'ad';
}

/**
 * Records a direct child that ends at `end`; `listEnd`, where its end tag begins when it holds a
 * list of `<URL>`s.
 */
function noteChild(anchors: ChildAnchors, name: string, end: number, listEnd?: number): void {
  const child = localName(name);
  if (child === 'impression') {
    anchors.lastImpressionEnd = end;
    anchors.impressionListEnd = listEnd;
  }
  if (child === 'error') {
    anchors.lastErrorEnd = end;
    anchors.errorListEnd = listEnd;
  }
  if (child === 'adsystem') anchors.adSystemEnd ??= end;
  anchors.lastChildEnd = end;
}

/** Whether an `<Ad>` of the root element holds an empty `<InLine/>` or `<Wrapper/>`. */
export function hasEmptyAdElement(tokens: readonly Token[]): boolean {
  const path = new OpenPath();
  for (const token of tokens) {
    if (token.kind === 'close') path.close(token.name);
    if (token.kind !== 'open') continue;
    const name = localName(token.name);
    if (token.selfClosing && AD_ELEMENTS.has(name) && isAdOfDocument(path.names)) return true;
    if (!token.selfClosing) path.push(name);
  }
  return false;
}

/**
 * For markup that is not well-formed: every construct ends, and the `<InLine>`/`<Wrapper>` tags
 * alternate clean opening tag, closing tag of the same name (strict or sloppy), with no sloppy
 * opening tag and no nesting.
 */
export function adElementsPairUp(tokens: readonly Token[]): boolean {
  if (tokens.some((token) => token.kind === 'unterminated')) return false;
  const adTags = tokens.filter(
    (token) =>
      (token.kind === 'open' || token.kind === 'close' || token.kind === 'loose') &&
      !(token.kind === 'open' && token.selfClosing) &&
      AD_ELEMENTS.has(localName(token.name)),
  );
  return (
    adTags.length % 2 === 0 &&
    adTags.every((token, index) => {
      const opening = adTags[index - (index % 2)];
      if (index % 2 === 0) return token.kind === 'open';
      return (
        isClosing(token) && opening?.kind === 'open' && localName(token.name) === localName(opening.name)
      );
    })
  );
}

function isClosing(token: Token): token is Extract<Token, { name: string }> {
  return token.kind === 'close' || (token.kind === 'loose' && token.closing);
}
