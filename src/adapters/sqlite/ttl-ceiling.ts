import type Database from 'better-sqlite3';

/**
 * Raises the ledger's TTL ceiling (its `ttl_ceiling` row) to `longestTtlSeconds`, the longest TTL
 * of the rules a server starts with, and answers it: the longest TTL of any win the ledger's
 * servers have registered since it was kept, which only ever grows.
 */
export function raiseTtlCeiling(db: Database.Database, longestTtlSeconds: number): number {
  return db
    .prepare('UPDATE ttl_ceiling SET seconds = MAX(seconds, ?) RETURNING seconds')
    .pluck()
    .get(longestTtlSeconds) as number;
}
