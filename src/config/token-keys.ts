import type { Config } from '../config.js';
import { KEY_BYTES, MAX_KEY_ID } from '../domain/token.js';
import { decodeBase64 } from '../lib/strict-base64.js';

/**
 * `1:<base64 key>,2:<base64 key>`: decimal key ids 0–255, each listed once (a token names the id
 * it was sealed with, so two keys under one id cannot both open), 32-byte keys in strict base64 or
 * base64url (see {@link decodeBase64}); the last entry signs. `source` names where they were given.
 */
export function parseTokenKeys(text: string, source: string, errors: string[]): Config['tokenKeys'] {
  if (text === '') return undefined;
  const keys: { id: number; key: Buffer }[] = [];
  for (const [index, entry] of text.split(',').entries()) {
    const [idText = '', keyText = '', ...rest] = entry.trim().split(':');
    const id = /^[0-9]{1,3}$/.test(idText) ? Number(idText) : NaN;
    const decoded = decodeBase64(keyText, 'its key', KEY_BYTES);
    // Named by its place, never shown: the entry holds a secret key.
    const problem =
      Number.isNaN(id) || id > MAX_KEY_ID
        ? 'its id is not a decimal number from 0 to 255'
        : rest.length > 0
          ? 'it has more than one ":"'
          : 'problem' in decoded
            ? decoded.problem
            : undefined;
    if (problem !== undefined || !('bytes' in decoded)) {
      errors.push(
        `tokenKeys: entry ${index + 1} of ${source} must be <id 0-255>:<32-byte key in base64> (${problem})`,
      );
      continue;
    }
    if (keys.some((listed) => listed.id === id)) {
      errors.push(
        `tokenKeys: key id ${id} is listed twice in ${source}; give each key an id of its own (the last key listed signs)`,
      );
      continue;
    }
    keys.push({ id, key: decoded.bytes });
  }
  return keys;
}
