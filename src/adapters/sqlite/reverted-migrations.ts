import type Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from './migrations.js';

/**
 * A migration once committed under a number, then reverted, its number taken by another: a ledger
 * a Tally of that time migrated holds a `user_version` counting it, without the migration now
 * under that number. Such a ledger is known by the table the reverted migration alone made.
 */
interface RevertedMigration {
  /** The schema version it took, as `user_version` counts (its index in the list plus one). */
  version: number;
  /** The table it made, which no migration of {@link SQLITE_MIGRATIONS} makes. */
  madeTable: string;
  /** SQL undoing it: what it kept is read by no Tally since the revert. */
  undo: string;
}

const REVERTED_MIGRATIONS: readonly RevertedMigration[] = [
  // 7bb9b64 kept the dedupe keys of impressions counted without a burl delivery; da15dce reverted it
  // (a B-tree write a notice), and 63bef45 made migration 20 the VAST error codes.
  { version: 20, madeTable: 'counted_impressions', undo: 'DROP TABLE counted_impressions;' },
];

/** The reverted migrations whose table `db` holds: see {@link replaceRevertedMigrations}. */
export function revertedMigrationsIn(db: Database.Database): readonly RevertedMigration[] {
  const tables = new Set(
    db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[],
  );
  return REVERTED_MIGRATIONS.filter((reverted) => tables.has(reverted.madeTable));
}

/**
 * Undoes each reverted migration `db` had and, where its schema version counts it, applies the
 * migration now under its number in its place; the version stays as it was. A start of a Tally
 * that did not know of them may have applied the later migrations over them, then failed on what
 * the missing one makes, before it served. Runs inside the caller's write transaction.
 */
export function replaceRevertedMigrations(db: Database.Database): void {
  const schemaVersion = db.pragma('user_version', { simple: true }) as number;
  for (const reverted of revertedMigrationsIn(db)) {
    db.exec(reverted.undo);
    if (schemaVersion >= reverted.version) db.exec(SQLITE_MIGRATIONS[reverted.version - 1] ?? '');
  }
}
