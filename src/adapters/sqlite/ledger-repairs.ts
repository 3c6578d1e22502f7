import type Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from './migrations.js';

/**
 * What a migration made in a ledger of some Tally of the past, since changed in a way that later
 * migrations or the ledger now rely on, and how to bring such a ledger to what the migrations make
 * today. Such a ledger is known by its tables, not its schema version, which counts the same.
 */
interface LedgerRepair {
  /** Whether `db` needs it. */
  needed(db: Database.Database): boolean;
  /** Brings `db` to what today's migrations make, its schema version left as it is. */
  apply(db: Database.Database, schemaVersion: number): void;
}

/** Whether `db` has the table `name`. */
function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
}

/** Whether `db` has the table `table` and it has no column `column`. */
function lacksColumn(db: Database.Database, table: string, column: string): boolean {
  const columns = db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
  return columns.length > 0 && !columns.includes(column);
}

const LEDGER_REPAIRS: readonly LedgerRepair[] = [
  // Migration 1 of the first hour (c2d1b6a to ab8b0a7, 22 November 2026) made deliveries with no
  // account, which d5f48b3 added to it: migration 6, indexing it, failed on such a ledger. A delivery
  // takes the account of the impression it bills (the first, 'default', where none is kept).
  {
    needed: (db) => lacksColumn(db, 'deliveries', 'account_id'),
    apply: (db) =>
      db.exec(`
        ALTER TABLE deliveries ADD COLUMN account_id INTEGER NOT NULL DEFAULT 1;
        CREATE INDEX repair_events_dedupe_key ON events (dedupe_key);
        UPDATE deliveries SET account_id = COALESCE((SELECT e.account_id FROM events e
          WHERE e.dedupe_key = deliveries.dedupe_key AND e.outcome = 'counted' ORDER BY e.id LIMIT 1), 1);
        DROP INDEX repair_events_dedupe_key;
        CREATE INDEX deliveries_account ON deliveries (account_id, id);
      `),
  },
  // Migration 20 of 7bb9b64 kept the dedupe keys of impressions counted without a burl delivery
  // (counted_impressions); da15dce reverted it (a B-tree write a notice), and 63bef45 made migration
  // 20 the VAST error codes. A ledger it migrated counts 20 without them, and a start of a Tally that
  // did not know of this applied 21 over it, then failed on the missing codes, before it served.
  // What it kept is read by no Tally since the revert.
  {
    needed: (db) => hasTable(db, 'counted_impressions'),
    apply: (db, schemaVersion) => {
      db.exec('DROP TABLE counted_impressions;');
      if (schemaVersion >= 20) db.exec(SQLITE_MIGRATIONS[19] ?? '');
    },
  },
];

/** Whether `db` needs any repair: see {@link repairLedger}. */
export function ledgerNeedsRepair(db: Database.Database): boolean {
  return LEDGER_REPAIRS.some((repair) => repair.needed(db));
}

/**
 * Brings a ledger a migration since changed made otherwise to what today's migrations make, before
 * the migrations it has not had are applied; its schema version stays as it is. Runs inside the
 * caller's write transaction.
 */
export function repairLedger(db: Database.Database): void {
  const schemaVersion = db.pragma('user_version', { simple: true }) as number;
  for (const repair of LEDGER_REPAIRS) if (repair.needed(db)) repair.apply(db, schemaVersion);
}
