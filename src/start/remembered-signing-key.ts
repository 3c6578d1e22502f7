import type Database from 'better-sqlite3';
import { sqliteSigningKeyMemory } from '../adapters/sqlite/signing-key-memory.js';
import type { KeyRing } from '../domain/token.js';
import { droppedSigningKey } from '../keys.js';
import type { Logger } from '../lib/log.js';

/**
 * Remembers `keyRing`'s signing key in the ledger (see `droppedSigningKey`), warning when the key
 * that signed tokens until this start is not in the ring: the notices of the wins it sealed are
 * then invalid_token.
 */
export function rememberSigningKey(keyRing: KeyRing, db: Database.Database, log: Logger): void {
  const dropped = droppedSigningKey(keyRing, sqliteSigningKeyMemory(db), Date.now());
  if (dropped !== undefined) {
    log.warn('token_key_dropped', {
      keyId: dropped.keyId,
      fingerprint: dropped.fingerprint,
      signingSince: new Date(dropped.sinceMs).toISOString(),
      note: 'the key that signed tokens until this start is not among the keys: notices of the wins it sealed are invalid_token; list it beside the new keys (TALLY_TOKEN_KEYS or token-keys.json) unless it was retired on purpose',
    });
  }
}
