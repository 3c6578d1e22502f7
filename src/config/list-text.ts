/**
 * Whether a comma of `text`, regular expressions, lies inside a group `(…)`, a class `[…]` or a
 * quantifier `{…}`, a backslash escaping the character after it.
 */
export function commaInsideBrackets(text: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '\\') index++;
    else if (inClass) {
      if (char === ']') inClass = false;
      else if (char === ',') return true;
    } else if (char === '[') inClass = true;
    else if (char === '(' || char === '{') depth++;
    else if ((char === ')' || char === '}') && depth > 0) depth--;
    else if (char === ',' && depth > 0) return true;
  }
  return false;
}

/** The JSON value `text` holds, or what `JSON.parse` threw when it is not JSON. */
export function jsonOrError(text: string): { parsed: unknown } | { error: unknown } {
  try {
    return { parsed: JSON.parse(text) as unknown };
  } catch (error) {
    return { error };
  }
}

/**
 * How a list setting's text begins when it is a JSON array of strings: `[`, then `"` or `]`
 * (white space allowed). A comma-separated list may begin with `[` too, a pattern's character
 * class (`[Bb]ot-x`), but not so.
 */
export const JSON_STRING_ARRAY_START = /^\s*\[\s*["\]]/;
