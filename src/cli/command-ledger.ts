import type Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE, lookUnlessServed } from '../adapters/sqlite/data-dir-lock.js';
import type { LedgerMemory } from '../adapters/sqlite/data-dir-lock.js';
import { mayNeedMigrating, openSqlite } from '../adapters/sqlite/database.js';
import type { Config } from '../config.js';
import { SQLITE_MIGRATIONS } from '../adapters/sqlite/migrations.js';
import { refuseLostLedger } from '../keys.js';

/**
 * The ledger a command would migrate is served by a running Tally that has not migrated it: an
 * older one (migrated under it, its statements would fail on the tables changed, and every notice
 * would be answered 503), or one of this version still migrating it as it starts (it holds the
 * data directory before it migrates); from the command's side the two look alike. The message
 * says what to do in either case.
 */
export class LedgerServedUnmigratedError extends Error {
  constructor(dbPath: string, dataDir: string, schemaVersion: number) {
    super(
      `${dbPath} has schema version ${schemaVersion} and this Tally's commands need ${SQLITE_MIGRATIONS.length}, ` +
        `but the Tally serving ${dataDir} has not migrated it: nothing was changed. Either it is this version, ` +
        'still migrating the ledger as it starts: wait until it listens, then run the command again; or it is an ' +
        'older one, which would fail on a ledger migrated under it: restart the server with this version first ' +
        '(it migrates the ledger as it starts; back the ledger up before), then run the command again',
    );
    this.name = 'LedgerServedUnmigratedError';
  }
}

/**
 * Opens the configured data directory's ledger for a command (`create-account`, `list-accounts`,
 * `replay-dead`), applying the migrations it has not had only when no Tally serves the directory:
 * one serving it while its ledger lacks this Tally's migrations is an older one (an upgrade
 * installed, the server not yet restarted) or one still migrating it as it starts, and this throws
 * a {@link LedgerServedUnmigratedError}, changing nothing. A new, empty ledger (schema version 0) is
 * made as the server would make it, but not where a Tally served the directory and its ledger is
 * lost (missing, or an empty file) beside its key file or with the keys configured: this throws
 * a `KeyFileError` then, as the server refuses to start there, rather than make a new ledger that
 * the server would then serve. To tell a server, the data directory's lock is taken for a moment
 * (see `lookUnlessServed`: another command's moment is waited for), only when that matters.
 */
export async function openCommandLedger(config: Config): Promise<Database.Database> {
  const dbPath = join(config.dataDir, 'tally.db');
  const servedBefore = existsSync(join(config.dataDir, LOCK_FILE));
  await refuseLostLedger(config.dataDir, dbPath, servedBefore, config.tokenKeys !== undefined, () =>
    ledgerMemoryOf(config.dataDir),
  );
  // Asked of a ledger to migrate alone: a command on a served, migrated one does not wait.
  const served =
    servedBefore && existsSync(dbPath) && mayNeedMigrating(dbPath) && (await isServed(config.dataDir));
  return openSqlite(dbPath, config.sqliteSynchronous, {
    beforeMigrating: (schemaVersion) => {
      if (schemaVersion > 0 && served)
        throw new LedgerServedUnmigratedError(dbPath, config.dataDir, schemaVersion);
    },
  });
}

/**
 * What the data directory's lock file remembers of its ledger; `made` while a Tally serves the
 * directory (it has a ledger there). Called only where the lock file is.
 */
async function ledgerMemoryOf(dataDir: string): Promise<LedgerMemory> {
  return (await lookUnlessServed(dataDir, (lock) => lock.ledgerMemory())) ?? 'made';
}

/** Whether a Tally server holds the data directory's lock (called only where the lock file is). */
async function isServed(dataDir: string): Promise<boolean> {
  return (await lookUnlessServed(dataDir, () => false)) ?? true;
}
