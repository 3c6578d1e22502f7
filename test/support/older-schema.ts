import Database from 'better-sqlite3';
import { chmodSync } from 'node:fs';
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

/**
 * Makes a ledger at `path` as the Tally before the last migration left it, with `rollupRows` hourly
 * rollup rows: the last migration rewrites them, about 3–3.5 s a million here, so that a start
 * migrating it can be seen (and signalled) while it does, once it logs `migrating_ledger`.
 */
export function ledgerToMigrate(path: string, rollupRows: number): void {
  const db = openAsOlderTally(path, SQLITE_MIGRATIONS.length - 1);
  try {
    db.prepare(
      `WITH RECURSIVE hour(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM hour WHERE n < ? - 1)
       INSERT INTO rollup_hourly (hour_ms, account_id, outcome, reason, impression_type, format, channel, method,
         seat, publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id,
         cachebuster_missing, kind, currency, ivt_rule, events, price_micros, media_cost_micros, revenue_micros)
       SELECT n * 3600000, 1, 'counted', '', 'exchange', 'banner', 'web', 'adm', 'seat', '', 0, 0, 0, 0, 0, 0,
         'adm', 'USD', '', 1, 1000, 0, 0 FROM hour`,
    ).run(rollupRows);
  } finally {
    db.close();
  }
  // Private, as that Tally made it: a start then logs only its migration (see `makeDataFilesPrivate`).
  chmodSync(path, 0o600);
}
