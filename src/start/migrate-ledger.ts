import { mayNeedMigrating } from '../adapters/sqlite/database.js';
import { migrateInThread } from '../adapters/sqlite/migration-thread/migrate-in-thread.js';
import { SQLITE_MIGRATIONS } from '../adapters/sqlite/migrations.js';
import type { Config } from '../config.js';
import type { Logger } from '../lib/log.js';

/**
 * Creates or migrates the ledger at `dbPath` on a thread of its own, if it needs that; an
 * up-to-date ledger (the usual start) needs no thread.
 */
export async function migrateLedgerIfNeeded(
  dbPath: string,
  synchronous: Config['sqliteSynchronous'],
  log: Logger,
): Promise<void> {
  if (mayNeedMigrating(dbPath)) {
    await migrateInThread({ dbPath, synchronous }, (schemaVersion) =>
      log.info('migrating_ledger', {
        fromVersion: schemaVersion,
        toVersion: SQLITE_MIGRATIONS.length,
        note: 'Tally listens once the ledger is migrated, which may take minutes on a large one: until then /healthz answers 200 starting, every other request 503',
      }),
    );
  }
}
