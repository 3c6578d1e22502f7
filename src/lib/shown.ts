/** Most characters of a caller's value an error message repeats. */
const MAX_SHOWN_CHARS = 64;

/** What a message says of a whole number past 2^53 - 1 in size, rather than repeat it. */
const INEXACT_NUMBER = 'a number past 2^53 - 1 in size (JSON readers round it)';

/**
 * From here JSON writes a number in exponent form (`1e+21`), which repeats what was read without
 * passing for digits the caller sent.
 */
const EXPONENT_FORM_FROM = 1e21;

/**
 * Whether `value` is a whole number past 2^53 - 1 in size (positive or negative): read from JSON
 * it may be another number rounded (9007199254740993 reads as 9007199254740992).
 */
export function isInexactInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value);
}

/**
 * Whether repeating `value` would show the caller digits it may never have sent: a whole number
 * past 2^53 - 1 in size that JSON writes in full (below 10^21).
 */
function isRoundedDigits(value: unknown): boolean {
  return isInexactInteger(value) && Math.abs(value as number) < EXPONENT_FORM_FROM;
}

/**
 * A caller's value as an error message repeats it: its JSON, cut short when long, so that a
 * 100 KB value does not come back whole. A whole number past 2^53 - 1 that JSON writes in full,
 * digits the caller may never have sent (read rounded), is described rather than repeated, and so
 * is an array or object holding one. `maxChars` cuts longer JSON (a rule, say, shown whole).
 */
export function shown(value: unknown, maxChars = MAX_SHOWN_CHARS): string {
  // JSON reads a number past the float range (1e400) as Infinity, which it writes as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a number out of range';
  if (isRoundedDigits(value)) return INEXACT_NUMBER;
  let json: string;
  let inexact = false;
  try {
    json =
      JSON.stringify(value, (_key, member: unknown) => {
        inexact ||= isRoundedDigits(member);
        return member;
      }) ?? String(value);
  } catch {
    // Nested deeper than the stack allows (a config file's value, say).
    return Array.isArray(value)
      ? 'an array nested too deeply to repeat'
      : 'an object nested too deeply to repeat';
  }
  if (inexact) return `${jsonKind(value)} holding ${INEXACT_NUMBER}`;
  if (json.length <= maxChars) return json;
  // A string's own length, in characters as a reader counts them (an emoji is one), not its JSON's.
  const length =
    typeof value === 'string' ? `${[...value].length} characters` : `${json.length} characters of JSON`;
  return `${cutAt(json, maxChars)}… (${length})`;
}

/** The first `maxUnits` UTF-16 units of `text`, one fewer where that would split a surrogate pair. */
export function cutAt(text: string, maxUnits: number): string {
  const head = text.slice(0, maxUnits);
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}

/** A caller's field name as a message quotes it: its JSON, cut to 64 characters and `…` when longer. */
export function shownName(name: string): string {
  return JSON.stringify(name.length > MAX_SHOWN_CHARS ? `${cutAt(name, MAX_SHOWN_CHARS)}…` : name);
}

/**
 * A caller's value as a refusal says what came instead: a number, boolean or `null` as itself
 * (`1`), anything else as its kind and JSON (`a string ("usd")`, `an array (["USD"])`).
 */
export function shownSent(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' || value === null
    ? shown(value)
    : `${jsonKind(value)} (${shown(value)})`;
}

/** What kind of JSON value `value` is, as a message says it: `null`, `an array`, `an object`, `a string`… */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
