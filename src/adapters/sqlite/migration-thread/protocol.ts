import type { SqliteSynchronous } from '../database.js';

/** What the migration thread is given: the ledger to migrate, and how hard its commits sync. */
export interface MigrationSettings {
  dbPath: string;
  synchronous: SqliteSynchronous;
}

/**
 * Why the migration thread could not migrate the ledger, as it is told to the main thread: an
 * error thrown on a thread arrives as a copy without its class, nor SQLite's code. `databaseFile`
 * and `sqlite` carry SQLite's error: that of a file Tally cannot use, and any other.
 */
export type MigrationFailure =
  | { type: 'schemaTooNew'; schemaVersion: number; knownVersion: number }
  | { type: 'databaseFile'; code: string; message: string }
  | { type: 'sqlite'; code: string; message: string }
  | { type: 'other'; error: unknown };

/**
 * What the migration thread tells the main thread: `migrating` as it begins to apply the pending
 * migrations (only when there are some), then `migrated` (the ledger closed) or `failed`.
 */
export type FromMigrationThread =
  | { type: 'migrating'; schemaVersion: number }
  | { type: 'migrated' }
  | { type: 'failed'; failure: MigrationFailure };
