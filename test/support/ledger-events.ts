import { join } from 'node:path';
import Database from 'better-sqlite3';

/** An `events` row of the ledger, as SQLite gives it: the text columns tests read, and the rest. */
export interface LedgerEventRow {
  auction_id: string;
  outcome: string;
  reason: string;
  /** The invalid-traffic rule an `invalid_traffic` notice matched; empty on the others. */
  ivt_rule: string;
  device_ip: string;
  [column: string]: unknown;
}

/**
 * The ledger's rows for every notice of these auctions, in the order recorded, read from the
 * SQLite file of the data directory itself (read-only), where a notice is committed before it is
 * answered.
 */
export function ledgerEventsOf(dataDir: string, auctionIds: readonly string[]): LedgerEventRow[] {
  const db = new Database(join(dataDir, 'tally.db'), { readonly: true });
  try {
    return db
      .prepare(
        `SELECT * FROM events WHERE auction_id IN (${auctionIds.map(() => '?').join(', ')}) ORDER BY id`,
      )
      .all(...auctionIds) as LedgerEventRow[];
  } finally {
    db.close();
  }
}
