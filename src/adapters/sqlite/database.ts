import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SQLITE_MIGRATIONS } from './migrations.js';

/** How hard SQLite syncs commits: FULL survives power loss, NORMAL (WAL) survives a process crash. */
export type SqliteSynchronous = 'FULL' | 'NORMAL';

/** Opens (creating if needed) Tally's SQLite database in WAL mode and applies pending migrations. */
export function openSqlite(path: string, synchronous: SqliteSynchronous = 'FULL'): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/**
 * Runs `work` in a transaction that takes the write lock as it begins (BEGIN IMMEDIATE), waiting
 * up to the busy timeout for another connection's. Every transaction that writes begins so: one
 * begun deferred that reads before it writes pins a snapshot, and SQLite then refuses its first
 * write at once (SQLITE_BUSY, without waiting) whenever another connection committed meanwhile,
 * as the counting thread does hundreds of times a second.
 */
export function writeTransaction<T>(db: Database.Database, work: () => T): T {
  return db.transaction(work).immediate();
}

function migrate(db: Database.Database): void {
  const applied = db.pragma('user_version', { simple: true }) as number;
  for (let index = applied; index < SQLITE_MIGRATIONS.length; index++) {
    db.transaction(() => {
      db.exec(SQLITE_MIGRATIONS[index] ?? '');
      db.pragma(`user_version = ${index + 1}`);
    })();
  }
}
