import { duplicateMembers } from '../domain/duplicate-members.js';

/** Why a member given twice in JSON is refused: which one counts is the reader's choice. */
export const KEEPS_ONE = 'a JSON reader keeps only one of them';

/**
 * The path of each member named twice in one object of `json`, valid JSON, once each
 * (`port`, `priceKeys.s1`): `JSON.parse` would keep the last silently, dropping a seat's keys.
 */
export function duplicatePaths(json: string): string[] {
  return [...new Set(duplicateMembers(json).map((duplicate) => duplicate.path))];
}
