import type Database from 'better-sqlite3';
import type { SigningKeyMemory, SigningKeyRecord } from '../../keys.js';

/** The ledger's memory of the key that signed tokens at the last start, in its `signing_key` table. */
export function sqliteSigningKeyMemory(db: Database.Database): SigningKeyMemory {
  return {
    last: () =>
      db.prepare('SELECT key_id AS keyId, fingerprint, since_ms AS sinceMs FROM signing_key').get() as
        SigningKeyRecord | undefined,
    remember: (key) => {
      db.transaction(() => {
        db.prepare('DELETE FROM signing_key').run();
        db.prepare('INSERT INTO signing_key (key_id, fingerprint, since_ms) VALUES (?, ?, ?)').run(
          key.keyId,
          key.fingerprint,
          key.sinceMs,
        );
      })();
    },
  };
}
