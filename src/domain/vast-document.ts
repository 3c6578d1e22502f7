/**
 * What a VAST (or DAAST) document says of itself as a whole, read from its root element and the
 * `<Ad>` elements in it: which template it is, whether it is VAST 1.0, which version's schema
 * orders an ad's `<Error>`, whether it serves audio, and whether it is a no-ad response.
 */
import { OpenPath } from './vast-open-path.js';
import { localName, scanMarkup, skipConstruct, skipWhitespace } from './vast-scan.js';
import type { Token } from './vast-scan.js';

const VAST_ROOT_TAG = /<(?:[^\s<>/:]+:)?(VAST|VideoAdServingTemplate|DAAST)[\s/>]/iy;
const VAST_1_ROOT = 'videoadservingtemplate';
/** The local names of the root elements of VAST (all versions) and DAAST documents. */
const TEMPLATE_ROOTS = new Set(['vast', VAST_1_ROOT, 'daast']);

/** Which kind of ad-serving template a markup's root element names. */
export type TemplateKind = 'vast' | 'daast';

/**
 * What the text looks like: a VAST document when its first element is `<VAST>` (or VAST 1.0's
 * `<VideoAdServingTemplate>`), a DAAST one (IAB's audio template, VAST's sibling) when it is
 * `<DAAST>`, after an optional BOM, XML declaration, comments and DOCTYPE; else `undefined`.
 * Says nothing about whether the rest is well-formed.
 */
export function templateKind(markup: string): TemplateKind | undefined {
  let at = skipWhitespace(markup, markup.startsWith('\uFEFF') ? 1 : 0);
  let prologEnd = skipConstruct(markup, at);
  while (prologEnd !== undefined && prologEnd !== -1) {
    at = skipWhitespace(markup, prologEnd);
    prologEnd = skipConstruct(markup, at);
  }
  VAST_ROOT_TAG.lastIndex = at;
  const root = VAST_ROOT_TAG.exec(markup)?.[1];
  if (root === undefined) return undefined;
  return root.toLowerCase() === 'daast' ? 'daast' : 'vast';
}

/** VAST 4.1's `adType` attribute of an `<Ad>`, its value in group 1 or 2. */
const AD_TYPE_ATTRIBUTE = /\sadType\s*=\s*(?:"([^"]*)"|'([^']*)')/;

/**
 * Whether a VAST document says it serves audio: each `<Ad>` of its root element (one at least)
 * carries VAST 4.1's `adType="audio"`, where an ad without one is video, VAST's default (as is a
 * `hybrid` one, of audio and video). Comments and CDATA sections are no part of it.
 */
export function declaresAudioAds(xml: string): boolean {
  let ads = 0;
  const path = new OpenPath();
  for (const token of scanMarkup(xml)) {
    if (token.kind === 'close') path.close(token.name);
    if (token.kind !== 'open') continue;
    const name = localName(token.name);
    if (name === 'ad' && path.length === 1) {
      const type = AD_TYPE_ATTRIBUTE.exec(xml.slice(token.start, token.end));
      if ((type?.[1] ?? type?.[2])?.trim().toLowerCase() !== 'audio') return false;
      ads++;
    }
    if (!token.selfClosing) path.push(name);
  }
  return ads > 0;
}

/**
 * Whether the document is a VAST (or DAAST) no-ad response: its root element, `<VAST>` or another
 * template's, holds no `<Ad>` (outside comments and CDATA), whatever else it holds (an `<Error>`).
 */
export function isNoAdResponse(tokens: readonly Token[]): boolean {
  const path = new OpenPath();
  for (const token of tokens) {
    if (token.kind === 'close') path.close(token.name);
    if (token.kind !== 'open') continue;
    const name = localName(token.name);
    if (path.length === 0 && !TEMPLATE_ROOTS.has(name)) return false;
    if (path.length === 1 && name === 'ad') return false;
    if (!token.selfClosing) path.push(name);
  }
  return tokens.some((token) => token.kind === 'open');
}

/** Whether the document is VAST 1.0's (its root a `<VideoAdServingTemplate>`), whose ads list URLs. */
export function isVast1(tokens: readonly Token[]): boolean {
  const root = tokens.find((token) => token.kind === 'open');
  return root?.kind === 'open' && localName(root.name) === VAST_1_ROOT;
}

/**
 * How the VAST schema of the document's version orders an ad's `<Error>` elements, and how many it
 * allows: VAST 4 reads them right after `<AdSystem>` (before `<Extensions>` and `<Impression>`),
 * any number; VAST 1.0, 2.0 and 3.0 right before `<Impression>`, one at most (VAST 1.0's holding
 * a list of `<URL>`s). A document of another version, or none, is taken as VAST 2.0 and 3.0 order
 * it but may hold any number.
 */
export type ErrorSchema = 'vast4' | 'oneBeforeImpression' | 'beforeImpression';

/** The {@link ErrorSchema} of the document whose root is the first start tag among `tokens`. */
export function errorSchemaOf(xml: string, tokens: readonly Token[]): ErrorSchema {
  const root = tokens.find((token) => token.kind === 'open');
  if (root?.kind !== 'open') return 'beforeImpression';
  if (localName(root.name) === VAST_1_ROOT) return 'oneBeforeImpression';
  const rootTag = xml.slice(xml.lastIndexOf('<', root.end - 1), root.end);
  const major = ROOT_VERSION.exec(rootTag)?.[1];
  if (major === undefined) return 'beforeImpression';
  if (Number(major) >= 4) return 'vast4';
  return major === '2' || major === '3' ? 'oneBeforeImpression' : 'beforeImpression';
}

/** The major number of a root tag's `version` attribute. */
const ROOT_VERSION = /\sversion\s*=\s*["']\s*(\d+)/;
