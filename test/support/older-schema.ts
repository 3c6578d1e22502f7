import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';

/**
 * Makes a SQLite database at `path` as an older Tally left it: its first `schemaVersion`
 * migrations applied, the later ones not.
 */
export function migrateAsOlderTally(path: string, schemaVersion: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  for (const [index, migration] of SQLITE_MIGRATIONS.slice(0, schemaVersion).entries()) {
    db.exec(migration);
    db.pragma(`user_version = ${index + 1}`);
  }
  db.close();
}
