/**
 * A Content-Security-Policy that banner markup sets itself (`<meta http-equiv>`): the page the ad
 * renders in enforces it on Tally's tags as on the DSP's, so that one admitting only the DSP's
 * hosts blocks Tally's pixel, and the impression never counts.
 */
import type { HtmlRegion } from './html-regions.js';
import { htmlRegions, isHtmlStartTag, markupText, startTagAttributes } from './html-regions.js';

/** What Tally adds to the markup: a pixel (an image) or its OMID verification script. */
export type TallyTag = 'image' | 'script';

/** The directives that decide whether each kind of tag loads, the first one present deciding. */
const DIRECTIVES: Readonly<Record<TallyTag, readonly string[]>> = {
  image: ['img-src', 'default-src'],
  script: ['script-src-elem', 'script-src', 'default-src'],
};

const NAMED: Readonly<Record<TallyTag, string>> = {
  image: "img-src or default-src may block Tally's pixel",
  script: "script-src or default-src may block Tally's OMID verification script",
};

/**
 * The warning for markup setting a policy (in a `<meta http-equiv>` tag a browser reads as one,
 * in the head: one in the body, after text or an element that starts it, sets none) whose
 * directive for Tally's `tag` does not admit `tallyUrl`, the URL the tag loads: no `*`, scheme or
 * host source of Tally's. (A policy meant for another origin, `'self'`, is taken as not admitting
 * it.)
 */
export function contentSecurityPolicyWarnings(adm: string, tag: TallyTag, tallyUrl: string): string[] {
  if (!/content-security-policy/i.test(adm)) return [];
  const tally = new URL(tallyUrl);
  const blocks = headRegions(adm, htmlRegions(adm)).some((region) => {
    if (!isHtmlStartTag(adm, region, 'meta')) return false;
    const attributes = startTagAttributes(adm, region.start);
    const value = (attribute: string) => attributes.find((read) => read.name === attribute)?.value;
    if (value('http-equiv')?.trim() !== 'content-security-policy') return false;
    const sources = sourcesOf(value('content') ?? '', DIRECTIVES[tag]);
    return sources !== undefined && !sources.some((source) => admits(source, tally));
  });
  if (!blocks) return [];
  return [
    `bid.adm sets a Content-Security-Policy (<meta http-equiv>) whose ${NAMED[tag]}: it loads only if that admits ${tally.origin}`,
  ];
}

/**
 * Elements a browser keeps in the head, where a policy's `<meta>` is enforced: any other start tag,
 * as any text but white space, starts the body, where a `<meta http-equiv>` sets no policy.
 */
const HEAD_ELEMENTS = new Set([
  'html',
  'head',
  'base',
  'basefont',
  'bgsound',
  'link',
  'meta',
  'noframes',
  'noscript',
  'script',
  'style',
  'template',
  'title',
]);
/** End tags that end the head and start the body (others there are ignored). */
const BODY_STARTING_END_TAGS = new Set(['body', 'html', 'br']);
const NOT_WHITE_SPACE = /[^\t\n\f\r ]/;

/**
 * The regions of `html` a browser reads into its head, before its body starts (see
 * {@link HEAD_ELEMENTS}), but for the content of a `<template>`, which is inert.
 */
function headRegions(html: string, regions: readonly HtmlRegion[]): HtmlRegion[] {
  const head: HtmlRegion[] = [];
  let templates = 0;
  for (const [index, region] of regions.entries()) {
    const { kind, name, start, foreign } = region;
    const endTag = html.startsWith('</', start);
    if (kind === 'tag' && name === 'template' && foreign !== true) {
      templates = Math.max(0, templates + (endTag ? -1 : 1));
      continue;
    }
    if (templates > 0) continue;
    if (kind === 'markup' && NOT_WHITE_SPACE.test(markupText(html, regions, index))) break;
    if (kind === 'tag' && name !== undefined) {
      if (endTag ? BODY_STARTING_END_TAGS.has(name) : !HEAD_ELEMENTS.has(name)) break;
    }
    head.push(region);
  }
  return head;
}

/** The sources of the first of `names` a policy sets (a directive set twice: its first), if any. */
function sourcesOf(policy: string, names: readonly string[]): string[] | undefined {
  const directives = new Map<string, string[]>();
  for (const directive of policy.split(';')) {
    const [name, ...sources] = directive.trim().split(/[\t\n\f\r ]+/);
    if (name !== undefined && name !== '' && !directives.has(name)) directives.set(name, sources);
  }
  for (const name of names) {
    const sources = directives.get(name);
    if (sources !== undefined) return sources;
  }
  return undefined;
}

/** A host source: an optional scheme, a host (`*.` for its subdomains), an optional port and path. */
const HOST_SOURCE = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/:]+)(?::(\d+|\*))?(\/.*)?$/;

/** The port a URL of each scheme has when it names none. */
const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/**
 * Whether a source expression (lower-cased) admits `url`, as CSP matches one: its scheme (an http
 * source admits https too), its host (`*` any, `*.` its subdomains), its port (none or its scheme's
 * default for a URL without one, `*` any) and its path (one ending in `/` a prefix, else the path).
 */
function admits(source: string, url: URL): boolean {
  if (source === '*') return true;
  const schemeAdmits = (scheme: string) =>
    scheme === url.protocol || (scheme === 'http:' && url.protocol === 'https:');
  if (/^[a-z][a-z0-9+.-]*:$/.test(source)) return schemeAdmits(source);
  const match = HOST_SOURCE.exec(source);
  if (match === null) return false;
  const [, scheme, host = '', port, path = ''] = match;
  // The policy comes lower-cased, as its tag's attributes are read.
  const pathname = url.pathname.toLowerCase();
  if (scheme !== undefined && !schemeAdmits(`${scheme}:`)) return false;
  const hostAdmits =
    host === '*' || host === url.hostname || (host.startsWith('*.') && url.hostname.endsWith(host.slice(1)));
  const urlPort = url.port === '' ? DEFAULT_PORTS[url.protocol] : url.port;
  const portAdmits =
    port === undefined ? url.port === '' : port === '*' || port === url.port || port === urlPort;
  const pathAdmits = path === '' || (path.endsWith('/') ? pathname.startsWith(path) : pathname === path);
  return hostAdmits && portAdmits && pathAdmits;
}
