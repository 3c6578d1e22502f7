/**
 * OpenRTB Native instrumentation: Tally's impression tracker goes into the native response, as an
 * `eventtrackers` entry (Native 1.2) of a method the request offered, else into `imptrackers`; into
 * both for a response written to Native 1.0 or 1.1 when the request offered event trackers.
 * Native 1.0/1.1 documents are wrapped in `{"native": {...}}`; 1.2 documents may or may not be.
 */
import { duplicateMember } from './duplicate-members.js';
import { jsonObjectText, skipSpace } from './json-members.js';
import { jsonError } from '../lib/json-error.js';

/**
 * The outcome of {@link instrumentNative}: the instrumented JSON text, whether the tracker went
 * into `eventtrackers` and what was unusual about the markup, or the markup untouched with the
 * reason.
 */
type NativeResult =
  | { ok: true; markup: string; usedEventTrackers: boolean; warnings: string[] }
  | { ok: false; markup: string; warning: string };

/**
 * How a native request lets the bidder track the impression (Native 1.2 `eventtrackers`, event
 * 1): `image`, it offers method 1 (a pixel); `script`, method 2 (a script) but not 1; `none`, no
 * event tracker of the impression, which then goes into the response's `imptrackers`.
 */
export type ImpressionTrackerOffer = 'image' | 'script' | 'none';

type JsonObject = Record<string, unknown>;

/** Native 1.2 event type 1: impression. */
const IMPRESSION_EVENT = 1;
/** Native 1.2 event tracking method 1: image pixel. */
const IMAGE_METHOD = 1;
/** Native 1.2 event tracking method 2: a script loaded when the event happens. */
const SCRIPT_METHOD = 2;

/**
 * Adds Tally's impression URL to a native response: `{event: 1, method, url}` appended to
 * `eventtrackers` (created if missing) when the request offered an event tracker of the impression
 * (`offer`, see {@link nativeImpressionTrackerOffer}): method 1 with the URL, or, where only a
 * script is offered, method 2 with the URL asking for a 204 (`f=b`), which a script element loads
 * as an empty script where it would refuse the GIF; and the URL to `imptrackers` too when the
 * response is written to Native 1.0 or 1.1. Without an offer, the URL appended to `imptrackers`.
 *
 * `adm` may be JSON text or an already-parsed object, with or without the `{"native": {...}}`
 * wrapper; the result is JSON text of the same shape (wrapper kept if present): JSON text gets the
 * tracker written into it, every other byte as the DSP wrote it but a byte order mark it began
 * with, which JSON readers refuse (a warning says so). The input object is not
 * modified. Invalid JSON, a document that is not a native response, or trackers that are not
 * arrays give `ok: false` with the markup untouched. Never throws.
 */
export function instrumentNative(
  adm: string | object,
  impressionUrl: string,
  offer: ImpressionTrackerOffer,
): NativeResult {
  // A byte order mark, which JSON does not allow, is taken off: readers refuse the JSON after one.
  const marked = typeof adm === 'string' && adm.startsWith(BYTE_ORDER_MARK);
  const text = typeof adm === 'string' ? withoutByteOrderMark(adm) : adm;
  const [document, markup] = typeof text === 'string' ? [parseJson(text), text] : [text, safeStringify(text)];
  if (document === undefined)
    return untouched(adm, `native markup is not valid JSON (${jsonError(markup ?? '')})`);
  if (typeof document === 'string' && looksLikeNative(document)) {
    return untouched(
      adm,
      "native markup is a JSON string holding the JSON text of a native response, encoded twice, not the response itself: send the response's JSON text as bid.adm",
    );
  }
  if (!isJsonObject(document)) return untouched(adm, 'native markup is not a JSON object');
  const response = unwrap(document);
  if (!isNativeResponse(response)) {
    return untouched(
      adm,
      'native markup is not a native response (no assets array, link object, assetsurl or dcourl)',
    );
  }
  // A response written to Native 1.0 or 1.1 (its `ver`, or `imptrackers` without `eventtrackers`)
  // is rendered by a reader of those, which knows no `eventtrackers`: the URL goes into
  // `imptrackers` too (a reader firing both is counted once, the second a duplicate).
  const offeredEventTrackers = offer !== 'none';
  const fields: TrackerField[] = offeredEventTrackers
    ? isOlderResponse(response)
      ? ['eventtrackers', 'imptrackers']
      : ['eventtrackers']
    : ['imptrackers'];
  for (const field of fields) {
    const existing = response[field] ?? [];
    if (!Array.isArray(existing)) return untouched(adm, `native response's ${field} is not an array`);
  }
  // An object adm was written as JSON text (`markup`) above: the tracker goes into that text.
  if (markup === undefined) return untouched(adm, 'native markup cannot be written back as JSON');
  let output = markup;
  for (const field of fields) {
    const tracker =
      field === 'imptrackers'
        ? impressionUrl
        : offer === 'script'
          ? { event: IMPRESSION_EVENT, method: SCRIPT_METHOD, url: scriptUrl(impressionUrl) }
          : { event: IMPRESSION_EVENT, method: IMAGE_METHOD, url: impressionUrl };
    const others = ((response[field] ?? []) as unknown[]).length > 0;
    output = withTrackerInText(output, response !== document, field, tracker, others);
  }
  return {
    ok: true,
    markup: output,
    usedEventTrackers: offeredEventTrackers,
    warnings: [...(marked ? [BYTE_ORDER_MARK_WARNING] : []), ...duplicateWarnings(markup)],
  };
}

const BYTE_ORDER_MARK = '\uFEFF';
const BYTE_ORDER_MARK_WARNING =
  "native markup began with a byte order mark (U+FEFF), which JSON readers such as JSON.parse and Android's org.json refuse, so that the ad would not render: Tally served it without the mark";

/** The text without the byte order mark it begins with, if any. */
function withoutByteOrderMark(text: string): string {
  return text.startsWith(BYTE_ORDER_MARK) ? text.slice(BYTE_ORDER_MARK.length) : text;
}

/** A notice URL that asks for a 204 rather than the GIF (`f=b`): an empty script. */
function scriptUrl(noticeUrl: string): string {
  return `${noticeUrl}${noticeUrl.includes('?') ? '&' : '?'}f=b`;
}

/** The arrays of a native response that list impression trackers. */
type TrackerField = 'eventtrackers' | 'imptrackers';

/**
 * Whether a native response is written to Native 1.0 or 1.1: its `ver` says so, or, without one,
 * it lists `imptrackers` and no `eventtrackers` (1.2's).
 */
function isOlderResponse(response: JsonObject): boolean {
  const { ver } = response;
  if (typeof ver === 'number') return ver < 1.2;
  if (typeof ver === 'string' && ver.trim() !== '') {
    const [major, minor = '0'] = ver.trim().split('.');
    return major === '1' && Number(minor) < 2;
  }
  return (
    Array.isArray(response.imptrackers) && response.imptrackers.length > 0 && response.eventtrackers == null
  );
}

/**
 * A warning when the markup names a member twice in one object: JSON readers differ on which copy
 * they take, and Tally (as `JSON.parse` does) writes its tracker into the last `native` and the
 * last tracker array, which a reader taking the first would not see.
 */
function duplicateWarnings(markup: string): string[] {
  const duplicate = duplicateMember(markup);
  if (duplicate === undefined) return [];
  return [
    `native markup names ${JSON.stringify(duplicate.name)} twice in one object (at ${duplicate.path}): JSON readers differ on which one they take, and Tally's tracker went into the last, which a reader taking the first would not see`,
  ];
}

/**
 * The native response's JSON text with `tracker` added to its `field` array (appended, after a
 * comma when it holds `others`; in place of a `null`), or the field added with it alone: every other byte of the DSP's
 * text stays as it was, numbers JavaScript cannot hold included. `wrapped`: the response is the
 * value of the document's `native` member (its last, which `JSON.parse` reads).
 */
function withTrackerInText(
  text: string,
  wrapped: boolean,
  field: string,
  tracker: unknown,
  others: boolean,
): string {
  let objectAt = skipSpace(text, 0);
  if (wrapped)
    objectAt =
      jsonObjectText(text, objectAt).members.findLast((member) => member.key === 'native')?.valueStart ??
      objectAt;
  const response = jsonObjectText(text, objectAt);
  const trackerJson = JSON.stringify(tracker);
  const array = response.members.findLast((member) => member.key === field);
  // A field written as `null` (as serialisers write an absent one) becomes the array.
  if (array !== undefined && text[array.valueStart] !== '[')
    return `${text.slice(0, array.valueStart)}[${trackerJson}]${text.slice(array.valueEnd)}`;
  if (array !== undefined) return spliced(text, array.valueEnd - 1, others ? `,${trackerJson}` : trackerJson);
  const comma = response.members.length > 0 ? ',' : '';
  return spliced(text, response.closeAt, `${comma}${JSON.stringify(field)}:[${trackerJson}]`);
}

/** `text` with `insert` at `at`. */
function spliced(text: string, at: number, insert: string): string {
  return `${text.slice(0, at)}${insert}${text.slice(at)}`;
}

/**
 * How a Native request (the JSON text or object found in `imp.native.request`, with or without
 * the `{"native": {...}}` wrapper) lets the bidder track the impression: the methods its
 * `eventtrackers` offer for event 1 (impression). Anything unreadable answers `none`.
 */
export function nativeImpressionTrackerOffer(request: unknown): ImpressionTrackerOffer {
  return offerOf(impressionMethods(request) ?? []);
}

/** The tracker Tally adds for an impression offered by `methods`: image first, then script. */
function offerOf(methods: readonly unknown[]): ImpressionTrackerOffer {
  if (methods.includes(IMAGE_METHOD)) return 'image';
  return methods.includes(SCRIPT_METHOD) ? 'script' : 'none';
}

/**
 * The methods a native request's `eventtrackers` offer for event 1 (impression), all its offers
 * of it together; `undefined` where it offers none (no such offer, or a request it cannot read).
 */
function impressionMethods(request: unknown): unknown[] | undefined {
  const document = typeof request === 'string' ? parseJson(request) : request;
  if (!isJsonObject(document)) return undefined;
  const { eventtrackers } = unwrap(document);
  if (!Array.isArray(eventtrackers)) return undefined;
  const offers = eventtrackers.filter(
    (offer: unknown) => isJsonObject(offer) && offer.event === IMPRESSION_EVENT,
  ) as JsonObject[];
  if (offers.length === 0) return undefined;
  return offers.flatMap((offer) => (Array.isArray(offer.methods) ? (offer.methods as unknown[]) : []));
}

/**
 * Why Tally's notice went into `imptrackers` although the native request offers event trackers of
 * the impression: by none of its methods, an image (1) or a script (2), written as numbers.
 * `undefined` where it offers one of them, or no event tracker of the impression at all.
 */
export function unusableImpressionOffer(request: unknown): string | undefined {
  const methods = impressionMethods(request);
  if (methods === undefined || offerOf(methods) !== 'none') return undefined;
  return `imp.native.request offers the impression event (eventtrackers event 1) by methods ${JSON.stringify(methods)}, neither of Tally's, an image (1) or a script (2), as numbers: its notice went into the native response's imptrackers, which a renderer firing only the event trackers the request offered does not fire`;
}

/**
 * Why a native request (`imp.native.request`) tells nothing of the event trackers it offers, where
 * one is given but cannot be read as a native request object (whose `eventtrackers` is an array,
 * if any), so that Tally's notice goes into `imptrackers`: `undefined` for one it reads, or none.
 */
export function unreadableNativeRequest(request: unknown): string | undefined {
  if (request === undefined || request === null) return undefined;
  const document = typeof request === 'string' ? parseJson(request) : request;
  const why =
    document === undefined
      ? 'imp.native.request is not valid JSON'
      : !isJsonObject(document)
        ? 'imp.native.request is not a JSON object'
        : !isTrackerList(unwrap(document).eventtrackers)
          ? "imp.native.request's eventtrackers is not an array"
          : undefined;
  return why === undefined
    ? undefined
    : `${why}, so Tally could not read which impression event trackers it offers: its notice went into the native response's imptrackers, which a renderer firing only the event trackers the request offered does not fire; send imp.native.request as the JSON text of a native request object`;
}

/** Whether `eventtrackers` is absent (`null` too) or an array, as a native request may give it. */
function isTrackerList(eventtrackers: unknown): boolean {
  return eventtrackers === undefined || eventtrackers === null || Array.isArray(eventtrackers);
}

/**
 * Whether the text looks like a native response (see `isNativeResponse`): a JSON object, after a
 * byte order mark if any, with or without the `{"native": {...}}` wrapper.
 */
export function looksLikeNative(markup: string): boolean {
  if (!markup.trimStart().startsWith('{')) return false;
  const document = parseJson(markup);
  return isJsonObject(document) && isNativeResponse(unwrap(document));
}

/** The native object inside a 1.0/1.1 `{"native": {...}}` wrapper, or the document itself. */
function unwrap(document: JsonObject): JsonObject {
  return isJsonObject(document.native) ? document.native : document;
}

/**
 * Whether an object is a native response: it has an `assets` array or a `link` object, or it
 * serves them from a URL (Native 1.2's `assetsurl`, `dcourl`), its trackers staying in it.
 */
function isNativeResponse(response: JsonObject): boolean {
  return (
    Array.isArray(response.assets) ||
    isJsonObject(response.link) ||
    typeof response.assetsurl === 'string' ||
    typeof response.dcourl === 'string'
  );
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The parsed JSON (after a byte order mark, if any), or `undefined` when the text is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(withoutByteOrderMark(text));
  } catch {
    return undefined;
  }
}

/** JSON text, or `undefined` for values JSON cannot hold (cycles, BigInt). */
function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** The markup as it came (an object as its JSON text), not instrumented, and why. */
function untouched(adm: string | object, warning: string): NativeResult {
  return { ok: false, markup: typeof adm === 'string' ? adm : (safeStringify(adm) ?? ''), warning };
}
