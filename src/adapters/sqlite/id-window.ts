/**
 * Windows of time over tables whose ids grow with a time column (`event_rows.received_ms`,
 * `deliveries.created_ms`), read as ranges of ids: no time index, which every insert on the hot
 * path would pay for.
 */
import type Database from 'better-sqlite3';

/** A table whose ids grow with one of its time columns. */
type TimeOrderedTable = 'event_rows' | 'deliveries';

/** The first and last ids of `table`, `low` and `high`, each read from one end of its B-tree. */
export function idBoundsSql(table: TimeOrderedTable): string {
  return `SELECT (SELECT MIN(id) FROM ${table}) AS low, (SELECT MAX(id) FROM ${table}) AS high`;
}

/**
 * The id of the first row of `table` whose `timeColumn` is at or after `ms` (one past the last
 * when none is), and the last id; both 0 for an empty table, found by a binary search over ids.
 * The first and last ids are each read from one end of the table's B-tree: in one `SELECT` with
 * both aggregates SQLite scans every row, seconds on a large ledger.
 */
export function firstIdFrom(
  db: Database.Database,
  table: TimeOrderedTable,
  timeColumn: 'received_ms' | 'created_ms',
  ms: number,
): { firstId: number; lastId: number } {
  const bounds = db.prepare(idBoundsSql(table)).get() as { low: number | null; high: number | null };
  if (bounds.low === null || bounds.high === null) return { firstId: 0, lastId: 0 };
  const timeAt = db.prepare(`SELECT ${timeColumn} FROM ${table} WHERE id >= ? ORDER BY id LIMIT 1`).pluck();
  let low = bounds.low;
  let high = bounds.high + 1;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if ((timeAt.get(middle) as number) < ms) low = middle + 1;
    else high = middle;
  }
  return { firstId: low, lastId: bounds.high };
}

/**
 * How far a clock stepped back may have put a row's time out of its id's order, allowed for when a
 * window of time is read as a range of ids: a row written under a clock stepped back further may
 * be left out of a window near its time.
 */
export const CLOCK_STEP_MARGIN_MS = 10 * 60_000;
