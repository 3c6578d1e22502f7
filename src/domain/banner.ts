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
 * Adds tags to HTML ad markup: before the last `</body>` when the markup is a full
 * document, else at the end. The original markup is otherwise unchanged.
 */
export function appendToHtml(adm: string, tags: readonly string[]): string {
  const snippet = tags.join('');
  const bodyEnd = adm.toLowerCase().lastIndexOf('</body');
  return bodyEnd === -1 ? adm + snippet : adm.slice(0, bodyEnd) + snippet + adm.slice(bodyEnd);
}
