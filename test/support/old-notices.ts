import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DAY_MS, hourStartMs } from '../../src/lib/time.js';

/** How long before now the notices `addOldNotices` writes were received: past any retention but 3650 days'. */
export const OLD_NOTICE_AGE_MS = 200 * DAY_MS;

/**
 * Writes `count` raw notices that did not count, received `OLD_NOTICE_AGE_MS` ago, into the
 * ledger of the stopped server whose data directory is `dataDir`, as ids 1 to `count`: the
 * ledger's own events move up after them, as ids grow with receipt times. They take the dims of
 * an event of the ledger that did not count (there must be one), and add to no rollup. Answers
 * how far the ledger's own events' ids moved.
 */
export function addOldNotices(dataDir: string, count: number, nowMs: number): number {
  const db = new Database(join(dataDir, 'tally.db'));
  try {
    const lastId = db.prepare('SELECT MAX(id) FROM event_rows').pluck().get() as number;
    const dimsId = db
      .prepare(`SELECT id FROM event_dims WHERE outcome <> 'counted' LIMIT 1`)
      .pluck()
      .get() as number;
    db.transaction(() => {
      db.prepare('UPDATE event_rows SET id = id + ? WHERE id > 0').run(count + lastId);
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO event_rows (id, received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id,
           price_micros, media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
         SELECT i, ? + i, ?, ?, 'old-' || i, '1', 'b', 0, 0, 0, '198.51.100.1', 'Googlebot/2.1', NULL, 0 FROM n`,
      ).run(count, nowMs - OLD_NOTICE_AGE_MS, hourStartMs(nowMs - OLD_NOTICE_AGE_MS), dimsId);
    })();
    return count + lastId;
  } finally {
    db.close();
  }
}

/** How many of the notices `addOldNotices` wrote (`count` of them) the ledger in `dataDir` still keeps. */
export function oldNoticesKept(dataDir: string, count: number): number {
  const db = new Database(join(dataDir, 'tally.db'), { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) FROM event_rows WHERE id <= ?').pluck().get(count) as number;
  } finally {
    db.close();
  }
}
