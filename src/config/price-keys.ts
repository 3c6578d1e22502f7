import type { PriceKeys } from '../domain/price-crypto.js';
import { decodePriceKey, PRICE_KEY_BYTES, parsePriceKeys, priceKeyName } from '../domain/price-crypto.js';
import { closestName } from '../lib/closest-name.js';
import { shown } from '../lib/shown.js';
import { OPERATOR_ACCOUNT_ID } from '../ports/accounts.js';

/** The fields of a `priceKeys` entry. */
const PRICE_KEY_FIELDS = ['encryptionKey', 'integrityKey', 'accountId', 'seat'];

/** A `priceKeys` entry as the errors that refuse one show it: every field it takes. */
const ENTRY_SHAPE =
  '{"encryptionKey": "<base64>", "integrityKey": "<base64>", "accountId"?: <id>, "seat"?: "<seat>"}';

/**
 * `{"<name>": {"encryptionKey", "integrityKey", "seat"?, "accountId"?}}`: a seat's keys (the seat
 * is the name unless `seat` gives it), for the wins of one account (`accountId`, the operator's
 * by default). Kept by {@link priceKeyName}. `source` names where they were given, in each error.
 */
export function parsePriceKeyMap(
  value: unknown,
  source: string,
  errors: string[],
): ReadonlyMap<string, PriceKeys> {
  const out = new Map<string, PriceKeys>();
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`priceKeys: ${source} must be {"<seat>": ${ENTRY_SHAPE}}`);
    return out;
  }
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      errors.push(`priceKeys.${name}: in ${source}, the entry must be ${ENTRY_SHAPE}, not ${shown(entry)}`);
      continue;
    }
    const fields = entry as Record<string, unknown>;
    // A misspelt field (`accountID`) would otherwise give another account's DSP keys to the operator's.
    const unknown = Object.keys(fields).filter((field) => !PRICE_KEY_FIELDS.includes(field));
    if (unknown.length > 0) {
      for (const field of unknown) {
        const closest = closestName(field, PRICE_KEY_FIELDS);
        errors.push(
          `priceKeys.${name}: in ${source}, unknown field ${JSON.stringify(field)}` +
            (closest === undefined
              ? ` (fields: ${PRICE_KEY_FIELDS.join(', ')})`
              : `: did you mean ${closest}?`),
        );
      }
      continue;
    }
    const keys =
      typeof fields.encryptionKey === 'string' && typeof fields.integrityKey === 'string'
        ? parsePriceKeys(fields.encryptionKey, fields.integrityKey)
        : undefined;
    if (keys === undefined) {
      errors.push(...unreadableKeyErrors(fields).map((error) => `priceKeys.${name}: in ${source}, ${error}`));
      continue;
    }
    const wrongLength = priceKeyLengthErrors(keys, fields);
    if (wrongLength.length > 0) {
      errors.push(...wrongLength.map((error) => `priceKeys.${name}: in ${source}, ${error}`));
      continue;
    }
    const accountId = fields.accountId ?? OPERATOR_ACCOUNT_ID;
    if (typeof accountId !== 'number' || !Number.isSafeInteger(accountId) || accountId < 1) {
      errors.push(
        `priceKeys.${name}: in ${source}, accountId must be an account id (a whole number from 1), not ${shown(accountId)}`,
      );
      continue;
    }
    const seat = fields.seat ?? name;
    if (typeof seat !== 'string' || seat === '') {
      errors.push(
        `priceKeys.${name}: in ${source}, seat must be the seat's id as wins name it, not ${shown(seat)}`,
      );
      continue;
    }
    const key = priceKeyName(accountId, seat);
    if (out.has(key)) {
      errors.push(
        `priceKeys.${name}: in ${source}, seat ${JSON.stringify(seat)} of account ${accountId} already has keys`,
      );
      continue;
    }
    out.set(key, keys);
  }
  return out;
}

/**
 * What is wrong with the lengths of a seat's price keys: Google's scheme, which DSPs decrypt with
 * Google's code, takes 32-byte keys. HMAC would take any length, so a key pasted in hex (64 hex
 * digits, which read as base64 give 48 bytes) or cut short would fill every encrypted price with
 * one the DSP cannot open.
 */
function priceKeyLengthErrors(keys: PriceKeys, texts: Record<string, unknown>): string[] {
  return (['encryptionKey', 'integrityKey'] as const).flatMap((field) => {
    const bytes = keys[field].length;
    if (bytes === PRICE_KEY_BYTES) return [];
    const text = texts[field];
    const hex = typeof text === 'string' && /^[0-9a-f]{64}$/i.test(text);
    return [
      `${field} is ${bytes} bytes; Google's price encryption keys are ${PRICE_KEY_BYTES} bytes, ` +
        (hex
          ? 'and this one is written in hex: give it in base64 (e.g. `xxd -r -p | base64`)'
          : 'written in base64 as 43 or 44 characters: copy the whole key as the exchange issued it'),
    ];
  });
}

/** What is wrong with each of an entry's two keys that is missing or not base64. */
function unreadableKeyErrors(fields: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const field of ['encryptionKey', 'integrityKey'] as const) {
    const text = fields[field];
    if (text === undefined)
      errors.push(`${field} is missing: give the key the DSP handed out, in (web-safe) base64`);
    else if (typeof text !== 'string' || decodePriceKey(text) === undefined)
      errors.push(`${field} is not (web-safe) base64: give the key as the DSP handed it out`);
  }
  return errors;
}
