import Database from 'better-sqlite3';
import { startWorkerThread } from '../../../lib/worker-entry.js';
import { DatabaseFileError, SchemaTooNewError } from '../database.js';
import type { FromMigrationThread, MigrationFailure, MigrationSettings } from './protocol.js';

/**
 * Applies the migrations the ledger at `settings.dbPath` has not had (creating it if need be) on a
 * thread of its own, with its own connection, as `openSqlite` does: this thread's event loop runs
 * meanwhile (health checks are answered, signals handled), however long they take. Calls
 * `beforeMigrating` with the schema version when a migration is to be applied, and settles once
 * the thread has ended, the ledger closed: each migration is applied whole or not at all. Rejects
 * as `openSqlite` throws: a {@link SchemaTooNewError}, a {@link DatabaseFileError}, SQLite's error.
 */
export function migrateInThread(
  settings: MigrationSettings,
  beforeMigrating: (schemaVersion: number) => void,
): Promise<void> {
  const worker = startWorkerThread(import.meta.url, settings);
  return new Promise<void>((resolve, reject) => {
    let outcome: { migrated: true } | { migrated: false; error: Error } | undefined;
    worker.on('message', (message: FromMigrationThread) => {
      if (message.type === 'migrating') beforeMigrating(message.schemaVersion);
      else if (message.type === 'migrated') outcome = { migrated: true };
      else outcome = { migrated: false, error: migrationError(settings.dbPath, message.failure) };
    });
    worker.on('error', (error: unknown) => (outcome ??= { migrated: false, error: asError(error) }));
    worker.on('exit', (code) => {
      if (outcome === undefined)
        reject(new Error(`the migration thread exited (${code}) before the ledger was migrated`));
      else if (outcome.migrated) resolve();
      else reject(outcome.error);
    });
  });
}

/** The error the migration thread's `failure` of the ledger at `path` was, as `openSqlite` throws it. */
function migrationError(path: string, failure: MigrationFailure): Error {
  switch (failure.type) {
    case 'schemaTooNew':
      return new SchemaTooNewError(path, failure.schemaVersion, failure.knownVersion);
    case 'databaseFile':
      return new DatabaseFileError(path, new Database.SqliteError(failure.message, failure.code));
    case 'sqlite':
      return new Database.SqliteError(failure.message, failure.code);
    case 'other':
      return asError(failure.error);
  }
}

/** `thrown` if it is an `Error` (a copy of one thrown on the thread), else one saying what it was. */
function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(`the migration thread failed: ${String(thrown)}`);
}
