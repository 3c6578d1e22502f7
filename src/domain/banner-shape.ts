/**
 * Banner markup that is no HTML markup, as DSPs sometimes send it by mistake: a bare URL, markup
 * JSON-encoded twice, or markup HTML-escaped. Tally's tags still load after it, but the ad does not
 * render (a page shows such text as it stands), and a URL loaded as one no longer works.
 */

/** A URL and nothing else: http(s) or scheme-relative, no white space or tag inside. */
const BARE_URL = /^\s*(?:https?:)?\/\/[^\s<>"']+\s*$/i;

/** Warnings for banner markup (`adm`) whose shape says it is no HTML markup. */
export function bannerShapeWarnings(adm: string): string[] {
  if (BARE_URL.test(adm)) {
    return [
      "bid.adm is a URL, not HTML markup: a page shows it as text, and one loading it (as an iframe's src) gets a URL that no longer works, Tally's tags following it; send markup instead, such as an <iframe> that loads the URL",
    ];
  }
  if (isJsonString(adm.trim())) {
    return [
      'bid.adm is a JSON string, quotes and all (its markup JSON-encoded twice): a page shows its quotes and escapes as text; decode it once before registering the win',
    ];
  }
  if (!adm.includes('<') && /&lt;/i.test(adm)) {
    return [
      'bid.adm holds no tag but HTML-escaped ones (&lt;): a page shows them as text; unescape the markup before registering the win',
    ];
  }
  return [];
}

/** Whether `text` is a JSON string literal, its quotes included. */
function isJsonString(text: string): boolean {
  if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) return false;
  try {
    return typeof JSON.parse(text) === 'string';
  } catch {
    return false;
  }
}
