/**
 * A Content-Security-Policy that banner markup sets itself (`<meta http-equiv>`): the page the ad
 * renders in enforces it on Tally's tags as on the DSP's, so that one admitting only the DSP's
 * hosts blocks Tally's pixel, and the impression never counts.
 */
import { htmlRegions, isHtmlStartTag, startTagAttributes } from './html-regions.js';

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
 * The warning for markup setting a policy (in a `<meta http-equiv>` tag a browser reads as one)
 * whose directive for Tally's `tag` does not admit `publicUrl`: no `*`, scheme or host source of
 * Tally's. (A policy meant for another origin, `'self'`, is taken as not admitting it.)
 */
export function contentSecurityPolicyWarnings(adm: string, tag: TallyTag, publicUrl: string): string[] {
  if (!/content-security-policy/i.test(adm)) return [];
  const tally = new URL(publicUrl);
  const blocks = htmlRegions(adm).some((region) => {
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

/** A host source: an optional scheme, a host (`*.` for its subdomains), an optional port. */
const HOST_SOURCE = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/:]+)(?::(\d+|\*))?(?:\/.*)?$/;

/** Whether a source expression (lower-cased) admits URLs of `url`'s origin. */
function admits(source: string, url: URL): boolean {
  if (source === '*') return true;
  // An http source admits https too.
  const schemeAdmits = (scheme: string) =>
    scheme === url.protocol || (scheme === 'http:' && url.protocol === 'https:');
  if (/^[a-z][a-z0-9+.-]*:$/.test(source)) return schemeAdmits(source);
  const match = HOST_SOURCE.exec(source);
  if (match === null) return false;
  const [, scheme, host = '', port] = match;
  if (scheme !== undefined && !schemeAdmits(`${scheme}:`)) return false;
  const hostAdmits = host === url.hostname || (host.startsWith('*.') && url.hostname.endsWith(host.slice(1)));
  const portAdmits = port === undefined ? url.port === '' : port === '*' || port === url.port;
  return hostAdmits && portAdmits;
}
