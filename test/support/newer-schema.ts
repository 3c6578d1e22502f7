import Database from 'better-sqlite3';
import { openSqlite } from '../../src/adapters/sqlite/database.js';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';

/**
 * Makes the SQLite database at `path` (created and migrated first) look migrated by a newer
 * Tally: its schema version one past the last migration this one knows. Answers that version.
 */
export function migrateAsNewerTally(path: string): number {
  openSqlite(path).close();
  const newer = SQLITE_MIGRATIONS.length + 1;
  const raw = new Database(path);
  raw.pragma(`user_version = ${newer}`);
  raw.close();
  return newer;
}
