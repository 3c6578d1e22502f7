/**
 * The one bound on the ids of the API, wherever a caller sends one (a body, a path, a query's
 * filter or `after` cursor): 2^53 - 1, the largest whole number JSON readers hold exactly.
 */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** Whether `value` is an id as a body sends one: a whole number from 1 to {@link MAX_ID}. */
export function isId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_ID;
}

/**
 * The id `text` (a path segment, a query value) writes as digits without a leading zero, from 1
 * to {@link MAX_ID}; `undefined` for any other text.
 */
export function idOfText(text: string): number | undefined {
  if (!/^[1-9]\d*$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}

/**
 * The id or cursor `text` (a filter on ids as reports read one, an `after`) writes as digits,
 * leading zeros and 0 taken (`05` is 5), up to {@link MAX_ID}; `undefined` for any other text.
 */
export function idOfDigits(text: string): number | undefined {
  return /^\d+$/.test(text) && Number(text) <= MAX_ID ? Number(text) : undefined;
}
