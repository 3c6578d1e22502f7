import type Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from '../adapters/sqlite/data-dir-lock.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import type { Config } from '../config.js';
import { SQLITE_MIGRATIONS } from '../adapters/sqlite/migrations.js';
import { refuseLostLedger } from '../keys.js';

/**
 * The ledger a command would migrate is served by a running Tally, an older one (this Tally's
 * server migrates the ledger as it starts): migrated under it, its statements would fail on the
 * tables changed, and every notice would be answered 503. The message says what to do.
 */
export class LedgerServedByOlderTallyError extends Error {
  constructor(dbPath: string, dataDir: string, schemaVersion: number) {
    super(
      `${dbPath} has schema version ${schemaVersion} and this Tally's commands need ${SQLITE_MIGRATIONS.length}, ` +
        `but the Tally serving ${dataDir} is an older one, which would fail on a ledger migrated under it: ` +
        'nothing was changed. Restart the server with this version first (it migrates the ledger as it starts; ' +
        'back the ledger up before), then run the command again',
    );
    this.name = 'LedgerServedByOlderTallyError';
  }
}

/**
 * Opens the configured data directory's ledger for a command (`create-account`, `replay-dead`),
 * applying the migrations it has not had only when no Tally serves the directory: one serving it
 * while its ledger lacks this Tally's migrations is an older one (an upgrade installed, the
 * server not yet restarted), and this throws a {@link LedgerServedByOlderTallyError}, changing
 * nothing. A new, empty ledger (schema version 0) is made as the server would make it, but not
 * where a Tally served the directory and its ledger is lost (missing, or an empty file): this
 * throws a `KeyFileError` then, as the server refuses to start there, rather than make a new
 * ledger that the server would then serve.
 */
export function openCommandLedger(config: Config): Database.Database {
  const dbPath = join(config.dataDir, 'tally.db');
  refuseLostLedger(config.dataDir, dbPath, existsSync(join(config.dataDir, LOCK_FILE)));
  return openSqlite(dbPath, config.sqliteSynchronous, {
    beforeMigrating: (schemaVersion) => {
      if (schemaVersion > 0 && isServed(config.dataDir))
        throw new LedgerServedByOlderTallyError(dbPath, config.dataDir, schemaVersion);
    },
  });
}

/** Whether a Tally process holds the data directory's lock (the file is never made here). */
function isServed(dataDir: string): boolean {
  if (!existsSync(join(dataDir, LOCK_FILE))) return false;
  try {
    lockDataDir(dataDir).release();
    return false;
  } catch (error) {
    if (error instanceof DataDirInUseError) return true;
    throw error;
  }
}
