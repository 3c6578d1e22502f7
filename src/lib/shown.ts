/** Most characters of a caller's value an error message repeats. */
const MAX_SHOWN_CHARS = 64;

/**
 * A caller's value as an error message repeats it: its JSON, cut short when long, so that a
 * 100 KB value does not come back whole.
 */
export function shown(value: unknown): string {
  // JSON reads a number past the float range (1e400) as Infinity, which it writes as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a number out of range';
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    // Nested deeper than the stack allows (a config file's value, say).
    return Array.isArray(value)
      ? 'an array nested too deeply to repeat'
      : 'an object nested too deeply to repeat';
  }
  if (json.length <= MAX_SHOWN_CHARS) return json;
  // A string's own length, in characters as a reader counts them (an emoji is one), not its JSON's.
  const length =
    typeof value === 'string' ? `${[...value].length} characters` : `${json.length} characters of JSON`;
  return `${cutAt(json, MAX_SHOWN_CHARS)}… (${length})`;
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

/** What kind of JSON value `value` is, as a message says it: `null`, `an array`, `an object`, `a string`… */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
