// The migration thread: opens the ledger at start, applying the migrations it has not had, and
// closes it. A migration may take minutes on a large ledger: off the main thread, which answers
// health checks on the held port meanwhile.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { DatabaseFileError, openSqlite, SchemaTooNewError } from '../database.js';
import { nameThisThread } from '../../../lib/thread-name.js';
import type { FromMigrationThread, MigrationFailure, MigrationSettings } from './protocol.js';

if (parentPort === null)
  throw new Error('src/adapters/sqlite/migration-thread/worker.ts runs as a worker thread');
const port = parentPort;
nameThisThread('tally-migrating');
const send = (message: FromMigrationThread) => port.postMessage(message);

const settings = workerData as MigrationSettings;
try {
  openSqlite(settings.dbPath, settings.synchronous, {
    beforeMigrating: (schemaVersion) => send({ type: 'migrating', schemaVersion }),
  }).close();
  send({ type: 'migrated' });
} catch (error) {
  send({ type: 'failed', failure: migrationFailure(error) });
}

/** `error`, thrown opening or migrating the ledger, as the main thread rebuilds it. */
function migrationFailure(error: unknown): MigrationFailure {
  if (error instanceof SchemaTooNewError)
    return { type: 'schemaTooNew', schemaVersion: error.schemaVersion, knownVersion: error.knownVersion };
  if (error instanceof DatabaseFileError && error.cause instanceof Database.SqliteError)
    return { type: 'databaseFile', code: error.cause.code, message: error.cause.message };
  if (error instanceof Database.SqliteError)
    return { type: 'sqlite', code: error.code, message: error.message };
  return { type: 'other', error };
}
