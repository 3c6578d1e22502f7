import { escapeHtml } from './html.js';

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
 * document, else at the end. The original markup is otherwise unchanged.
 */
export function appendToHtml(adm: string, tags: readonly string[]): string {
  const snippet = tags.join('');
  const { bodyEndTag, unclosed } = readEnd(adm);
  if (bodyEndTag !== -1) return adm.slice(0, bodyEndTag) + snippet + adm.slice(bodyEndTag);
  // Markup that ends inside a comment or a script is closed first, or the tags would be read
  // as its text; a browser ends it there anyway, at the end of the markup.
  return adm + unclosed + snippet;
}

/** What `appendToHtml` needs to know of the markup's end. */
interface HtmlEnd {
  /** Where the last `</body` end tag begins, or -1. */
  bodyEndTag: number;
  /** What closes the comment or raw-text element the markup ends in (`-->`, `</script>`), or ''. */
  unclosed: string;
}

/**
 * Elements whose content a browser reads as text up to their own end tag: a `</body>` in them
 * (a `document.write` string, say) ends nothing.
 */
const RAW_TEXT_ELEMENTS = new Set([
  'script',
  'style',
  'textarea',
  'title',
  'xmp',
  'iframe',
  'noembed',
  'noframes',
]);

/**
 * Where the last `</body` end tag of `html` begins (one a browser would read as a tag, so not
 * one inside a comment or a raw-text element such as a script), and what the markup leaves
 * open. One pass, left to right.
 */
function readEnd(html: string): HtmlEnd {
  // Lower-cased letter for letter: `toLowerCase` makes some characters longer ("İ" → "i̇"),
  // which would move every index after them.
  const lower = html.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
  let last = -1;
  for (let at = lower.indexOf('<'); at !== -1; at = lower.indexOf('<', at)) {
    if (lower.startsWith('<!--', at)) {
      const commentEnd = lower.indexOf('-->', at + 4);
      if (commentEnd === -1) return { bodyEndTag: last, unclosed: '-->' };
      at = commentEnd + 3;
      continue;
    }
    if (lower.startsWith('</body', at) && /^(?:[\s/>]|$)/.test(lower.charAt(at + 6))) last = at;
    const name = /^<([a-z][a-z0-9]*)/.exec(lower.slice(at, at + 12))?.[1];
    if (name !== undefined && RAW_TEXT_ELEMENTS.has(name)) {
      const contentEnd = lower.indexOf(`</${name}`, at + name.length + 1);
      if (contentEnd === -1) return { bodyEndTag: last, unclosed: `</${name}>` };
      at = contentEnd + name.length + 2;
      continue;
    }
    at += 1;
  }
  return { bodyEndTag: last, unclosed: '' };
}
