/** Most characters of a caller's value an error message repeats. */
const MAX_SHOWN_CHARS = 64;

/**
 * A caller's value as an error message repeats it: its JSON, cut short when long, so that a
 * 100 KB value does not come back whole.
 */
export function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length <= MAX_SHOWN_CHARS
    ? json
    : `${json.slice(0, MAX_SHOWN_CHARS)}… (${json.length} characters)`;
}
