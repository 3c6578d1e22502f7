import { escapeHtml } from './html.js';
import type { HtmlRegion } from './html-regions.js';
import { htmlRegions } from './html-regions.js';

/** A 1×1 image tag that requests `url` when the markup renders. */
export function pixelTag(url: string): string {
  return `<img src="${escapeHtml(url)}" width="1" height="1" alt="" style="display:none">`;
}

/**
 * Tally's OMID verification script tag. The script (served by Tally) reports the OMID
 * one-pixel impression event by requesting `noticeUrl`.
 */
export function omidScriptTag(scriptUrl: string, noticeUrl: string): string {
  return `<script src="${escapeHtml(scriptUrl)}" data-tally-notice="${escapeHtml(noticeUrl)}"></script>`;
}

/**
 * Adds tags to HTML ad markup: before the last `</body>` end tag when the markup is a full
 * document, else at the end, closing first a comment, a script or a start tag the markup leaves
 * open (a browser ends it there anyway, and would otherwise read the tags as its text or its
 * attributes). The markup is otherwise unchanged.
 */
export function appendToHtml(adm: string, tags: readonly string[]): string {
  const snippet = tags.join('');
  const regions = htmlRegions(adm);
  const bodyEnd = lastBodyEndTag(adm, regions);
  if (bodyEnd !== -1) return adm.slice(0, bodyEnd) + snippet + adm.slice(bodyEnd);
  return adm + (regions.find((region) => region.closer !== undefined)?.closer ?? '') + snippet;
}

/** A `</body` end tag, in any case. */
const BODY_END_TAG = /<\/body(?=[\s/>]|$)/gi;

/**
 * Where the last `</body` end tag of `html` begins, or -1: one a browser reads as a tag, so not
 * one inside a comment, a script or another element whose content is text, or inside an attribute
 * value (an iframe's `srcdoc` document).
 */
function lastBodyEndTag(html: string, regions: readonly HtmlRegion[]): number {
  let last = -1;
  for (const region of regions) {
    if (region.kind !== 'markup') continue;
    for (const match of html.slice(region.start, region.end).matchAll(BODY_END_TAG)) {
      last = region.start + match.index;
    }
  }
  return last;
}
