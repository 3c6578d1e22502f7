/**
 * The parts of OpenRTB 2.5 / 2.6 objects that Tally reads. Input is untrusted JSON, so every
 * field is optional and read through the guards below, never trusted by its declared type.
 */
export interface OrtbMediaObject {
  api?: unknown;
  request?: unknown;
}

/** OpenRTB `Imp`. */
export interface OrtbImp {
  id?: unknown;
  banner?: OrtbMediaObject;
  video?: OrtbMediaObject;
  audio?: OrtbMediaObject;
  native?: OrtbMediaObject;
  /** OpenRTB 2.6: how many people one showing of the ad reaches (`multiplier`), as on DOOH screens. */
  qty?: unknown;
  /** 1 when the impression requires secure (HTTPS) creative assets and markup; 0 or absent, not. */
  secure?: unknown;
}

/** OpenRTB `BidRequest`. */
export interface OrtbBidRequest {
  id?: unknown;
  imp?: unknown;
  site?: { publisher?: { id?: unknown } };
  app?: { publisher?: { id?: unknown } };
  device?: { devicetype?: unknown };
  /** OpenRTB 2.6: digital out-of-home, in place of site and app. */
  dooh?: unknown;
  test?: unknown;
  /** Currencies allowed for bids (ISO 4217). */
  cur?: unknown;
}

/** OpenRTB `Bid`. */
export interface OrtbBid {
  id?: unknown;
  impid?: unknown;
  price?: unknown;
  adid?: unknown;
  nurl?: unknown;
  burl?: unknown;
  adm?: unknown;
  mtype?: unknown;
  /** Seconds the bidder waits from the auction to the impression. */
  exp?: unknown;
  /** Extensions: Prebid Server's `ext.prebid.type` names the format where `mtype` is unset. */
  ext?: unknown;
}

/** A plain JSON object, or `undefined`. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * A non-empty string, or `undefined`. OpenRTB ids are strings; an integer is accepted as its text
 * only up to 2^53 - 1, which every JSON reader holds exactly: past it (or with a fraction) two ids
 * can read as one number, and so as one impression.
 */
export function asId(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (isNumericId(value)) return String(value);
  return undefined;
}

/** Whether `value` is an id sent as a number that {@link asId} reads as its digits. */
export function isNumericId(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** Whether `value` is an id sent as a number that {@link asId} refuses: not whole, or past 2^53 - 1. */
export function isInexactNumericId(value: unknown): boolean {
  return typeof value === 'number' && !Number.isSafeInteger(value);
}
