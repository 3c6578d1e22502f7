/**
 * Tag export for impression and click trackers, as the Xandr seed's "Export tags" dialog does:
 * a JavaScript tag or a pixel, secure or not, with the `cachebuster`, `ancost` and `redir`
 * parameters filled with placeholders in the syntax of the ad server that will serve them; or,
 * for a video or audio creative, a VAST `<Impression>` element, which the player fires.
 */
import { escapeHtml } from './html.js';
import type { TrackerKind } from './tracker-hit.js';

/**
 * Whose placeholders go into the exported tag: Xandr's export placeholders (`xandr`), the
 * macros of a named third-party ad server — Google Ad Manager (`gam`), Campaign Manager 360
 * (`cm360`) or Xandr itself serving the creative (`xandr_macros`) — or those a VAST player fills
 * (`vast`).
 */
export type PlaceholderSyntax = 'xandr' | 'gam' | 'cm360' | 'xandr_macros' | 'vast';

/** All placeholder syntaxes, for validation. */
export const PLACEHOLDER_SYNTAXES: readonly PlaceholderSyntax[] = [
  'xandr',
  'gam',
  'cm360',
  'xandr_macros',
  'vast',
];

/** A tracker parameter the export can add. */
export type ExportParam = 'cachebuster' | 'ancost' | 'preview' | 'redir';

/** All tracker parameters the export can add, in the order a tag carries them. */
export const EXPORT_PARAMS: readonly ExportParam[] = ['cachebuster', 'ancost', 'preview', 'redir'];

/** What an impression tracker is exported as. */
export type ExportType = 'javascript' | 'pixel' | 'vast';

/** All export types, for validation. */
export const EXPORT_TYPES: readonly ExportType[] = ['pixel', 'javascript', 'vast'];

/** The export dialog's choices. */
export interface ExportOptions {
  /**
   * `javascript` (`t=1`, a script tag), `pixel` (`t=2`, an image tag) or `vast` (`t=2`, a VAST
   * `<Impression>` element, its URL in CDATA); click trackers export their URL whatever it is.
   */
  type: ExportType;
  /** Forces the `https` scheme; otherwise the base URL's own scheme is kept. */
  secure: boolean;
  /** Which parameters to add; order and repeats do not matter, `redir` always goes last. */
  params: readonly ExportParam[];
  placeholders: PlaceholderSyntax;
}

/** The text each parameter's value is filled with, per ad server. */
interface AdServerMacros {
  cachebuster: string;
  ancost: string;
  /** `redir` of an impression tracker: where the pixel redirects after recording (e.g. another pixel in a chain). */
  impressionRedirect: string;
  /** `redir` of a click tracker: the landing page. */
  clickRedirect: string;
  /**
   * `preview`: the macro the ad server fills with 1 when it renders the creative as a preview,
   * so that the hit is recorded as one and not counted; `undefined` where the server has none.
   */
  preview: string | undefined;
}

/**
 * Placeholders and macros per ad server. Where a server has no macro for a value, the Xandr
 * export placeholder stays (`[ANCOST]`, `[REDIRECT_URL]`) for ad ops to replace by hand; left
 * unreplaced it reads as "not given" on the hit (the payment rule prices it, the tracker's own
 * click URL is used). Sources:
 * - Xandr export placeholders `[CACHEBUSTER]`, `[ANCOST]`, `[REDIRECT_URL]`: the seed,
 *   learn.microsoft.com/xandr/monetize/create-an-impression-tracker (step 7).
 * - Google Ad Manager: `%%CACHEBUSTER%%` (support.google.com/admanager/answer/2376981, "Ad
 *   Manager macros"; case-sensitive); `%%DEST_URL%%`, the unescaped destination (click-through)
 *   URL for creative code (support.google.com/admanager/answer/6081628). No cost or price macro
 *   for a creative's own cost exists. `%%CLICK_URL_UNESC%%` is Ad Manager's click-tracking
 *   *prefix*, put before Tally's click URL in the creative, never a value of `redir`.
 * - Campaign Manager 360 (support.google.com/campaignmanager/table/6096962, "Campaign Manager
 *   360 macros"): `%n`, the random number macro, works in click trackers, impression and click
 *   event tags; `%u`, the landing page URL macro, works in creative code. No cost macro.
 * - Xandr serving the creative (learn.microsoft.com/xandr/monetize/supported-creative-macros):
 *   `${CACHEBUSTER}`. `${PRICE_PAID}` is a CPM, not the cost of one event, so `ancost` keeps its
 *   placeholder; Xandr has no landing-page macro (`${CLICK_URL}` is its click-tracking prefix,
 *   learn.microsoft.com/xandr/monetize/click-tracking). `${IS_PREVIEW}` is 1 when the creative
 *   renders as a preview, else 0. Neither Ad Manager nor Campaign Manager 360 documents a preview
 *   macro, nor is there an export placeholder for one.
 * - A VAST player (IAB VAST 4.1, "Macros"; VAST 3.0 already): `[CACHEBUSTING]`, a random
 *   8-digit number the player writes into every tracking URL it fires. VAST has no cost,
 *   landing-page or preview macro for a tracking URL.
 */
export const AD_SERVER_MACROS: Readonly<Record<PlaceholderSyntax, AdServerMacros>> = {
  xandr: {
    cachebuster: '[CACHEBUSTER]',
    ancost: '[ANCOST]',
    impressionRedirect: '[REDIRECT_URL]',
    clickRedirect: '[REDIRECT_URL]',
    preview: undefined,
  },
  gam: {
    cachebuster: '%%CACHEBUSTER%%',
    ancost: '[ANCOST]',
    impressionRedirect: '[REDIRECT_URL]',
    clickRedirect: '%%DEST_URL%%',
    preview: undefined,
  },
  cm360: {
    cachebuster: '%n',
    ancost: '[ANCOST]',
    impressionRedirect: '[REDIRECT_URL]',
    clickRedirect: '%u',
    preview: undefined,
  },
  xandr_macros: {
    cachebuster: '${CACHEBUSTER}',
    ancost: '[ANCOST]',
    impressionRedirect: '[REDIRECT_URL]',
    clickRedirect: '[REDIRECT_URL]',
    preview: '${IS_PREVIEW}',
  },
  vast: {
    cachebuster: '[CACHEBUSTING]',
    ancost: '[ANCOST]',
    impressionRedirect: '[REDIRECT_URL]',
    clickRedirect: '[REDIRECT_URL]',
    preview: undefined,
  },
};

/**
 * The exported tracker for one impression or click tracker.
 *
 * Impression trackers: an HTML tag shaped like the seed's, its URL
 * `<base>/imptr?id=…[&cachebuster=…][&ancost=…]&t=1|2[&preview=…][&redir=…]` HTML-escaped into the
 * attribute (`&` becomes `&amp;`; a browser reads back the plain URL):
 * - pixel: `<!-- Tally impression tracker: do not modify --> <img src="…" width="1" height="1" alt="" /> <!-- end -->`
 * - javascript: `<!-- Tally impression tracker: do not modify --> <script type="text/javascript" src="…"></script> <!-- end -->`
 * - vast: `<!-- Tally impression tracker: do not modify --> <Impression><![CDATA[…]]></Impression> <!-- end -->`,
 *   the URL as it stands (CDATA takes `&` as it is), for the `<InLine>` or `<Wrapper>` of a VAST
 *   ad, whose player fires it as the impression begins and answers it with the GIF (`t=2`)
 *
 * Click trackers: the tracking URL itself,
 * `<base>/clktr?id=…[&cachebuster=…][&ancost=…][&preview=…][&redir=…]`,
 * unescaped and without `t` — it is used as the creative's landing URL, so `type` does not
 * change it.
 *
 * Placeholder values are inserted literally (not percent-encoded), so the ad server finds and
 * replaces its macros; `redir` is always last, as Xandr requires. `baseUrl` is the service's
 * public origin, optionally with a path prefix (`https://tally.example.com`); a trailing slash is
 * ignored. Throws a `RangeError` unless it is an absolute http(s) URL without query or fragment,
 * and for `preview` with placeholders that have no preview macro (see {@link AD_SERVER_MACROS}).
 */
export function trackerTag(
  kind: TrackerKind,
  trackerId: number,
  baseUrl: string,
  options: ExportOptions,
): string {
  const url = trackerUrl(kind, trackerId, baseUrl, options);
  if (kind === 'click') return url;
  return `<!-- Tally impression tracker: do not modify --> ${trackerElement(url, options.type)} <!-- end -->`;
}

/** The element an impression tracker's URL is exported in. */
function trackerElement(url: string, type: ExportType): string {
  switch (type) {
    case 'pixel':
      return `<img src="${escapeHtml(url)}" width="1" height="1" alt="" />`;
    case 'javascript':
      return `<script type="text/javascript" src="${escapeHtml(url)}"></script>`;
    case 'vast':
      // The URL holds no `]]>` (its id is digits, its placeholders end in one `]`), so the CDATA
      // section ends where it should.
      return `<Impression><![CDATA[${url}]]></Impression>`;
  }
}

function trackerUrl(kind: TrackerKind, trackerId: number, baseUrl: string, options: ExportOptions): string {
  if (!Number.isSafeInteger(trackerId) || trackerId <= 0) {
    throw new RangeError(`tracker id ${trackerId} is not a positive integer`);
  }
  const macros = AD_SERVER_MACROS[options.placeholders];
  const wanted = new Set(options.params);
  const parts = [`id=${trackerId}`];
  if (wanted.has('cachebuster')) parts.push(`cachebuster=${macros.cachebuster}`);
  if (wanted.has('ancost')) parts.push(`ancost=${macros.ancost}`);
  if (kind === 'impression') parts.push(`t=${options.type === 'javascript' ? 1 : 2}`);
  if (wanted.has('preview')) {
    if (macros.preview === undefined) {
      throw new RangeError(`${options.placeholders} has no preview macro`);
    }
    parts.push(`preview=${macros.preview}`);
  }
  if (wanted.has('redir')) {
    parts.push(`redir=${kind === 'impression' ? macros.impressionRedirect : macros.clickRedirect}`);
  }
  return `${origin(baseUrl, options.secure)}/${kind === 'impression' ? 'imptr' : 'clktr'}?${parts.join('&')}`;
}

function origin(baseUrl: string, secure: boolean): string {
  if (!/^https?:\/\/[^/?#]+(?:\/[^?#]*)?$/i.test(baseUrl)) {
    throw new RangeError(`base URL ${JSON.stringify(baseUrl)} is not an absolute http(s) URL without query`);
  }
  const trimmed = baseUrl.replace(/\/+$/, '');
  return secure ? trimmed.replace(/^http:/i, 'https:') : trimmed;
}
