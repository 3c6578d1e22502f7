import type Database from 'better-sqlite3';
import type { KeyFileMemory } from '../../keys.js';

/** The ledger's memory of the data directory's token key file, in its `token_key_file` table. */
export function sqliteKeyFileMemory(db: Database.Database, nowMs: () => number = Date.now): KeyFileMemory {
  return {
    known: () => db.prepare('SELECT 1 FROM token_key_file').get() !== undefined,
    remember: () => {
      db.prepare(
        'INSERT INTO token_key_file (remembered_ms) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM token_key_file)',
      ).run(nowMs());
    },
  };
}
