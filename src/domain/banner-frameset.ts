/**
 * Banner markup that is a frameset document: a browser shows only its frames and ignores every
 * tag after its `<frameset>` (Tally's pixel and OMID script among them), so the impression never
 * counts.
 */
import { htmlRegions, markupText, startTagAttributes } from './html-regions.js';

/**
 * Start tags after which a browser no longer lets a `<frameset>` replace the body (HTML's
 * "frameset-ok" flag set to "not ok"): the `<frameset>` is then ignored, and the tags after it load.
 */
const FRAMESET_ENDING_TAGS = new Set([
  'body',
  'pre',
  'listing',
  'li',
  'dd',
  'dt',
  'button',
  'area',
  'br',
  'embed',
  'img',
  'image',
  'keygen',
  'wbr',
  'hr',
  'textarea',
  'xmp',
  'iframe',
  'select',
  'applet',
  'marquee',
  'object',
  'table',
]);

/** Text other than HTML's white space, which also ends a `<frameset>`'s chance. */
const NOT_WHITE_SPACE = /[^\t\n\f\r ]/;

const WARNING =
  "bid.adm is a frameset document (<frameset>): a browser shows only its frames and ignores the tags after it, Tally's among them, so the impression never counts; send markup that loads the frame's page in an <iframe> instead";

/** The warning for banner markup (`adm`) whose `<frameset>` a browser takes for the document. */
export function framesetWarnings(adm: string): string[] {
  if (!/<frameset/i.test(adm)) return [];
  const regions = htmlRegions(adm);
  for (const [index, { kind, name, start, foreign }] of regions.entries()) {
    if (kind === 'markup') {
      if (NOT_WHITE_SPACE.test(markupText(adm, regions, index))) return [];
    }
    if (kind !== 'tag' || name === undefined || foreign === true) continue;
    if (adm.startsWith('</', start)) {
      // `</br>` is read as `<br>`.
      if (name === 'br') return [];
      continue;
    }
    if (name === 'frameset') return [WARNING];
    if (FRAMESET_ENDING_TAGS.has(name) || (name === 'input' && !isHiddenInput(adm, start))) return [];
  }
  return [];
}

/** Whether the `<input>` start tag at `start` is `type=hidden`, which a browser does not show. */
function isHiddenInput(html: string, start: number): boolean {
  return startTagAttributes(html, start).find((attribute) => attribute.name === 'type')?.value === 'hidden';
}
