/** The most a rollup amount adds up to: the batches' upserts stop at it, and a report refuses it. */
import { ReportTooLargeError } from '../../ports/ledger.js';

/** The largest integer SQLite stores, 2^63 - 1: a rollup amount that reaches it holds no exact sum. */
const SQLITE_MAX_INTEGER = 9_223_372_036_854_775_807n;

/**
 * SQL adding the new rollup amount to `column`, stopping at {@link SQLITE_MAX_INTEGER}: past it
 * SQLite would store the sum as a floating-point number, a few thousand micros off, with nothing to
 * tell it from an exact one. A report meeting the limit is refused (see `exactSum`).
 */
export function saturatingSum(column: string): string {
  return `CASE WHEN excluded.${column} > ${SQLITE_MAX_INTEGER} - ${column} THEN ${SQLITE_MAX_INTEGER}
    ELSE ${column} + excluded.${column} END`;
}

/**
 * A sum of the report's `name` as read: refused unless an exact integer below 2^63 - 1. A rollup
 * row that reached the limit (see `saturatingSum`), or one written as a floating-point number
 * before the limit was kept, holds no exact amount.
 */
export function exactSum(name: string, value: unknown): bigint {
  if (typeof value === 'bigint' && value < SQLITE_MAX_INTEGER) return value;
  throw new ReportTooLargeError(
    `the report's ${name} include an hour whose sum reached 2^63 - 1 micros, the most the ledger adds up exactly, so it has no exact amount: group by hour to find it, and narrow from and to to leave it out`,
  );
}
