/**
 * The VAST error code a player reported on a `vast_error` notice (`?e=303`, where the notice URL
 * wrote `?e=[ERRORCODE]`): three digits from 100 to 999, given once; `null` for anything else,
 * which tells nothing of what failed (no `e`, the macro left unreplaced, `e=abc`, `e=42`, `e`
 * given twice). Never throws: the notice is recorded and answered alike whatever `e` holds.
 */
export function vastErrorCode(query: URLSearchParams): number | null {
  const values = query.getAll('e');
  if (values.length !== 1) return null;
  const [value] = values;
  return value !== undefined && THREE_DIGITS.test(value) ? Number(value) : null;
}

/** 100 to 999, written without a sign, spaces or leading zeros. */
const THREE_DIGITS = /^[1-9][0-9]{2}$/;
