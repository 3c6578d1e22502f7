/**
 * Where the members of a JSON object sit in its text, so that a value can be added to the text
 * itself rather than to a parsed copy written back: `JSON.stringify(JSON.parse(text))` changes
 * what JavaScript's numbers cannot hold (an id of 2^64 − 1, `1e400`).
 */

/** One member of an object: its key (escapes read) and where its value's text begins and ends. */
interface JsonMember {
  key: string;
  valueStart: number;
  valueEnd: number;
}

/** An object's members in the order written, and the index of its closing `}`. */
interface JsonObjectText {
  members: JsonMember[];
  closeAt: number;
}

const WHITE_SPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * The members of the object whose `{` is at `openAt` (after any white space), in `text`, which
 * must be valid JSON (read with `JSON.parse` first): nothing is checked here.
 */
export function jsonObjectText(text: string, openAt: number): JsonObjectText {
  const members: JsonMember[] = [];
  let at = skipSpace(text, skipSpace(text, openAt) + 1);
  while (text.charAt(at) === '"') {
    const keyEnd = stringEnd(text, at);
    const key = JSON.parse(text.slice(at, keyEnd)) as string;
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1);
    const valueEnd = valueTextEnd(text, valueStart);
    members.push({ key, valueStart, valueEnd });
    at = skipSpace(text, valueEnd);
    if (text.charAt(at) === ',') at = skipSpace(text, at + 1);
  }
  return { members, closeAt: at };
}

/** The index past the white space from `at`. */
export function skipSpace(text: string, at: number): number {
  let end = at;
  while (WHITE_SPACE.has(text.charAt(end))) end++;
  return end;
}

/**
 * The index after the closing quote of the JSON string whose opening quote is at `at` in `text`:
 * the next quote no backslash escapes (found by `indexOf`, each run of backslashes before a quote
 * counted once); `undefined` when the string never closes.
 */
export function jsonStringEnd(text: string, at: number): number | undefined {
  for (let quote = text.indexOf('"', at + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
  }
  return undefined;
}

const BACKSLASH = 0x5c;

/** The index after the string whose opening quote is at `at`, or the text's end when it never closes. */
function stringEnd(text: string, at: number): number {
  return jsonStringEnd(text, at) ?? text.length;
}

/** The index after the value that begins at `at`: a string, an object or array, or a literal. */
function valueTextEnd(text: string, at: number): number {
  const first = text.charAt(at);
  if (first === '"') return stringEnd(text, at);
  if (first !== '{' && first !== '[') {
    let end = at;
    while (end < text.length && !WHITE_SPACE.has(text.charAt(end)) && !',}]'.includes(text.charAt(end)))
      end++;
    return end;
  }
  let depth = 0;
  for (let end = at; end < text.length; end++) {
    const char = text.charAt(end);
    if (char === '"') end = stringEnd(text, end) - 1;
    else if (char === '{' || char === '[') depth++;
    else if ((char === '}' || char === ']') && --depth === 0) return end + 1;
  }
  return text.length;
}
