import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';

/**
 * Opens a SQLite database at `path` made as an older Tally left it: its first `schemaVersion`
 * migrations applied, the later ones not; the caller writes that Tally's rows and closes it.
 */
export function openAsOlderTally(path: string, schemaVersion: number): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  for (const [index, migration] of SQLITE_MIGRATIONS.slice(0, schemaVersion).entries()) {
    db.exec(migration);
    db.pragma(`user_version = ${index + 1}`);
  }
  return db;
}

/** Makes a SQLite database at `path` as an older Tally left it, with no rows: see {@link openAsOlderTally}. */
export function migrateAsOlderTally(path: string, schemaVersion: number): void {
  openAsOlderTally(path, schemaVersion).close();
}
