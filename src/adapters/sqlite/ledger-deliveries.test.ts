import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseBurlHost } from '../../domain/delivery-host.js';
import { openSqlite } from './database.js';
import { LedgerDeliveries } from './ledger-deliveries.js';
import { SqliteLedger } from './ledger.js';
import { impressionKey } from '../../domain/impression-key.js';
import { bannerClaims } from '../../../test/support/claims.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { HOUR_MS } from '../../lib/time.js';
import type { DeadDeliveryFilter } from '../../ports/ledger.js';
import { ledgerPerTest, queued } from '../../../test/support/sqlite-ledgers.js';
import { sqlPreparedBy } from '../../../test/support/prepared-sql.js';

const event = exchangeEvent;
let ledger: SqliteLedger;
const ledgers = ledgerPerTest('tally-ledger-deliveries-', (opened) => {
  ledger = opened;
});
const { dir } = ledgers;

/**
 * Records a counted impression for each burl of `burlsByKey` (by its dedupe key), lets every
 * delivery die, and answers the function giving, for a `--host` as `replay-dead` reads it, the
 * sorted keys of the dead deliveries it would replay.
 */
function deadBurlsReplayedFor(burlsByKey: Record<string, string>): (host: string) => string[] {
  ledger.record(
    Object.entries(burlsByKey).map(([key, url]) =>
      event({ dedupe: { key, expiresMs: T0 + 1 }, delivery: { url, deadlineMs: T0 + 1000 } }),
    ),
  );
  for (const leased of ledger.leaseDeliveries(T0 + HOUR_MS, 10, 5000))
    ledger.markFailed(leased.id, 'HTTP 500', null);
  const keysOf = new Map(ledger.listDeliveries(1, 'dead', 10).map((row) => [row.id, row.dedupeKey]));
  return (host) =>
    ledger
      .deadDeliveries({ host: parseBurlHost(host) })
      .map(({ id }) => keysOf.get(id) ?? `unlisted delivery ${id}`)
      .sort();
}

describe('the SQLite ledger’s deliveries, listed, counted and replayed', () => {
  it('finds when the pending delivery kept longest was created, being called or not, and none once none is pending', () => {
    assert.equal(ledger.oldestPendingCreatedMs(), undefined, 'none stored');
    for (const [key, receivedMs] of [
      ['older', T0],
      ['newer', T0 + 10],
    ] as const) {
      ledger.record([
        event({
          receivedMs,
          dedupe: { key, expiresMs: T0 + 1 },
          delivery: { url: 'u', deadlineMs: T0 + 1000 },
        }),
      ]);
    }
    const [leased] = ledger.leaseDeliveries(T0 + 5, 1, 100);
    assert.equal(ledger.oldestPendingCreatedMs(), T0, 'the older is being called, still pending');
    ledger.markDelivered(leased?.id ?? 0, T0 + 60);
    assert.equal(ledger.oldestPendingCreatedMs(), T0 + 10, 'the older delivered');
    const [last] = ledger.leaseDeliveries(T0 + 70, 1, 100);
    ledger.markDelivered(last?.id ?? 0, T0 + 80);
    assert.equal(ledger.oldestPendingCreatedMs(), undefined, 'none pending');
  });

  it('finds the oldest pending delivery by one seek per account, never reading every pending delivery, so that a scrape costs the same with millions pending', () => {
    // MIN(id) of the pending read the status index's every pending entry: 100 ms a scrape with
    // 2 M pending, after a DSP down for a few hours.
    const db = ledgers.db;
    const statements = sqlPreparedBy(db, () => ledger.oldestPendingCreatedMs());
    const plans = statements.map((sql) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
        .map((step) => step.detail)
        .filter((detail) => detail.includes(' deliveries ')),
    );
    assert.deepEqual(plans, [
      [
        'SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)',
        'SEARCH deliveries USING COVERING INDEX deliveries_account',
        'SEARCH deliveries USING COVERING INDEX deliveries_account (account_id>?)',
        'SEARCH deliveries USING COVERING INDEX deliveries_account_status (account_id=? AND status=?)',
      ],
    ]);
  });

  it('lists an auction’s deliveries through the dedupe keys’ index, of one seat or any, never a scan', () => {
    const deliveries = new LedgerDeliveries(ledgers.db);
    for (const seat of [null, 'seat']) {
      const plan = (
        ledgers.db
          .prepare(`EXPLAIN QUERY PLAN ${deliveries.sqlOf('deliveriesOfAuction')}`)
          .all('a', 'b', 1, null, null, seat, seat, 10, 0, 10, 10) as { detail: string }[]
      ).map((step) => step.detail);
      assert.match(
        plan.join('; '),
        /^SEARCH deliveries USING INDEX sqlite_autoindex_deliveries_1 \(dedupe_key>\? AND dedupe_key<\?\)/,
        String(seat),
      );
    }
  });

  it('lists an account’s deliveries newest first, all or of one status, in pages, each through an index', () => {
    const path = join(dir, 'listing.db');
    const listing = new SqliteLedger(openSqlite(path));
    const delivery = { url: 'u', deadlineMs: T0 + 1000 };
    listing.record(['l1', 'l2', 'l3'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })));
    const [first] = listing.leaseDeliveries(T0, 1, 5000);
    listing.markFailed(first?.id ?? 0, 'HTTP 500', null);
    const ids = (status?: 'pending' | 'dead', afterId?: number) =>
      listing.listDeliveries(1, status, 10, { afterId }).map((listed) => listed.dedupeKey);
    assert.deepEqual(ids(), ['l3', 'l2', 'l1']);
    assert.deepEqual(ids('dead'), ['l1']);
    assert.deepEqual(ids('pending'), ['l3', 'l2']);
    const [newest] = listing.listDeliveries(1, undefined, 1);
    assert.deepEqual(ids('pending', newest?.id), ['l2']);
    listing.close();
    const db = new Database(path, { readonly: true });
    const plan = (sql: string, ...parameters: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[])
        .map((step) => step.detail)
        .join('; ');
    assert.match(
      plan(
        'SELECT * FROM deliveries WHERE account_id = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT ?',
        1,
        'dead',
        10,
        10,
      ),
      /USING INDEX deliveries_account_status/,
    );
    // A window of time, read as a range of ids.
    assert.match(
      plan(
        `SELECT * FROM deliveries WHERE account_id = ? AND id < ? AND id >= ? AND id < ? AND created_ms >= ?
           AND created_ms < ? ORDER BY id DESC LIMIT ?`,
        ...[1, 10, 0, 10, 0, 10, 10],
      ),
      /USING INDEX deliveries_account \(account_id=\? AND id>\? AND id<\?\)/,
    );
    db.close();
  });

  it('counts the deliveries of one status through the status index, never reading the others', () => {
    const steps = (
      ledgers.db
        .prepare(`EXPLAIN QUERY PLAN ${new LedgerDeliveries(ledgers.db).sqlOf('deliveriesWithStatus')}`)
        .all('dead') as {
        detail: string;
      }[]
    ).map((step) => step.detail);
    assert.match(steps.join('; '), /^SEARCH deliveries USING (COVERING )?INDEX \w+ \(status=\?\)/);
  });

  it('replays the dead deliveries of one account, host (on any port, with any user name) or window of counting alone, and only counts them on a dry run', () => {
    const dead = (key: string, url: string, receivedMs: number, accountId = 1) =>
      event({
        receivedMs,
        dims: { ...event().dims, accountId },
        dedupe: { key, expiresMs: receivedMs + 1 },
        delivery: { url, deadlineMs: T0 + 1000 },
      });
    ledger.record([
      dead('a', 'https://DSP.example/b', T0),
      dead('b', 'https://dsp.example:8443/b', T0 + HOUR_MS),
      dead('c', 'https://dsp.example.net/b', T0 + 2 * HOUR_MS),
      dead('d', 'https://other.example/b', T0 + 3 * HOUR_MS, 2),
      dead('e', 'https://user@dsp.example/b', T0 + 3 * HOUR_MS, 2),
      dead('f', 'https://a@b@dsp.example/b', T0 + 3 * HOUR_MS, 3),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + 4 * HOUR_MS, 10, 5000))
      ledger.markFailed(leased.id, 'HTTP 500', null);
    /** The deliveries pending and not yet seen: each is leased as it is seen, hiding it after. */
    const pendingKeys = () =>
      ledger
        .leaseDeliveries(T0 + 5 * HOUR_MS, 10, 1)
        .map((row) => row.dedupeKey)
        .sort();
    const replay = (filter: DeadDeliveryFilter) =>
      ledger.replayDead(ledger.deadDeliveries(filter), T0 + 5 * HOUR_MS, T0 + 8 * HOUR_MS);
    assert.equal(
      ledger.deadDeliveries({ host: { hostname: 'dsp.example' } }).length,
      4,
      'with a user name too, up to its last @',
    );
    assert.deepEqual(pendingKeys(), [], 'reading the ids changes nothing');
    assert.equal(
      replay({ host: { hostname: 'dsp.example' }, createdFromMs: T0 + 1, createdToMs: T0 + 2 * HOUR_MS }),
      1,
    );
    assert.deepEqual(pendingKeys(), ['b']);
    assert.equal(replay({ accountId: 2 }), 2);
    assert.deepEqual(pendingKeys(), ['d', 'e']);
    assert.equal(replay({ createdToMs: T0 + 1 }), 1);
    assert.deepEqual(pendingKeys(), ['a']);
    assert.equal(replay({ accountId: 3 }), 1);
    assert.deepEqual(pendingKeys(), ['f']);
    assert.equal(replay({}), 1);
    assert.deepEqual(pendingKeys(), ['c']);
  });

  it('replays the dead deliveries counted from its from, inclusive, up to its to, exclusive', () => {
    ledger.record([
      queued('at-from', 'https://dsp.example/b', T0),
      queued('at-to', 'https://dsp.example/b', T0 + HOUR_MS),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + 2 * HOUR_MS, 10, 5000))
      ledger.markFailed(leased.id, 'HTTP 500', null);
    const [atTo, atFrom] = ledger.listDeliveries(1, 'dead', 10);
    assert.deepEqual([atFrom?.dedupeKey, atTo?.dedupeKey], ['at-from', 'at-to']);
    const idsFrom = (filter: DeadDeliveryFilter) => ledger.deadDeliveries(filter).map(({ id }) => id);
    assert.deepEqual(idsFrom({ createdFromMs: T0, createdToMs: T0 + HOUR_MS }), [atFrom?.id]);
    assert.deepEqual(idsFrom({ createdFromMs: T0 + HOUR_MS }), [atTo?.id]);
  });

  it('replays the dead deliveries of a host however their burls spell it: punycode or Unicode, a final dot, an IPv6 address', () => {
    const dead = (key: string, url: string) =>
      event({ dedupe: { key, expiresMs: T0 + 1 }, delivery: { url, deadlineMs: T0 + 1000 } });
    ledger.record([
      dead('unicode', 'https://bücher.example/b'),
      dead('punycode', 'https://xn--bcher-kva.example:8443/b'),
      dead('final-dot', 'https://bücher.example./b'),
      dead('ipv6', 'https://[2001:db8::1]/b'),
      dead('other', 'https://other.example/b'),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + HOUR_MS, 10, 5000))
      ledger.markFailed(leased.id, 'HTTP 500', null);
    const replay = (host: string) => ledger.deadDeliveries({ host: parseBurlHost(host) }).length;
    assert.equal(replay('xn--bcher-kva.example'), 3);
    assert.equal(replay('bücher.example.'), 3);
    assert.equal(replay('2001:db8::1'), 1);
  });

  it('replays the dead deliveries of an address however the burl and the option spell it, as URL parsing reads both', () => {
    const replay = deadBurlsReplayedFor({
      short: 'http://127.1/b',
      ported: 'http://127.0.0.1:8080/b',
      hex: 'http://0x7f.0.0.1/b',
      mapped: 'https://[::ffff:127.0.0.1]/b',
      'mapped-hex': 'https://[::FFFF:7F00:1]:443/b',
      other: 'https://127.0.0.2/b',
    });
    for (const host of ['127.0.0.1', '127.1', '0x7f.0.0.1', '2130706433'])
      assert.deepEqual(replay(host), ['hex', 'ported', 'short'], host);
    assert.deepEqual(replay('127.1:80'), ['hex', 'short']);
    for (const host of ['[::ffff:7f00:1]', '::ffff:127.0.0.1', '[::FFFF:127.0.0.1]:443'])
      assert.deepEqual(replay(host), ['mapped', 'mapped-hex'], host);
  });

  it('replays for a host on port 443 or 80 the dead burls of that scheme, in any case, that write no port, and for another port none of them', () => {
    const replay = deadBurlsReplayedFor({
      https: 'https://dsp.example/b',
      'upper-case': 'HTTPS://dsp.example/b',
      'https-443': 'https://dsp.example:443/b',
      http: 'http://dsp.example/b',
      'http-8080': 'http://dsp.example:8080/b',
    });
    assert.deepEqual(replay('dsp.example:443'), ['https', 'https-443', 'upper-case']);
    assert.deepEqual(replay('dsp.example:80'), ['http']);
    // 8080 is not 80: only the burl naming it.
    assert.deepEqual(replay('dsp.example:8080'), ['http-8080']);
  });

  it('replays only dead deliveries, as new ones: first attempt, the new deadline, due now', () => {
    const delivery = { url: 'u', deadlineMs: T0 + 1000 };
    ledger.record([
      event({ dedupe: { key: 'will-die', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'delivered', expiresMs: T0 + 1 }, delivery }),
    ]);
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) {
      if (leased.dedupeKey === 'delivered') ledger.markDelivered(leased.id, T0);
      else ledger.markFailed(leased.id, 'HTTP 500', T0 + 100);
    }
    const [again] = ledger.leaseDeliveries(T0 + 100, 10, 5000);
    ledger.markFailed(again?.id ?? 0, 'HTTP 500', null);
    assert.equal(ledger.replayDead(ledger.deadDeliveries(), T0 + 2000, T0 + 2000 + 3 * HOUR_MS), 1);
    assert.deepEqual(ledger.countDeliveries(), { pending: 1, delivered: 1, dead: 0, redirected: 0 });
    // Ids read as dead before another replay made them pending, or delivered: left as they are,
    // never called again.
    const all = ledger.listDeliveries(1, undefined, 10).map((row) => ({ id: row.id, firstFailedMs: null }));
    assert.equal(ledger.replayDead(all, T0 + 2000, T0 + 2000 + 3 * HOUR_MS), 0);
    assert.deepEqual(ledger.countDeliveries(), { pending: 1, delivered: 1, dead: 0, redirected: 0 });
    const replayed = ledger.leaseDeliveries(T0 + 2000, 10, 5000);
    assert.deepEqual(
      replayed.map((row) => [row.dedupeKey, row.attempts, row.dueMs, row.deadlineMs]),
      [['will-die', 1, T0 + 2000, T0 + 2000 + 3 * HOUR_MS]],
    );
  });

  it('replays a dead delivery by a seek on its id, never a walk of the dead ones: a step costs what it replays', () => {
    // Walking the dead deliveries for each one replayed held the write lock 178 s a step of 5000
    // on a ledger with 100 000 dead.
    const replayOne = new LedgerDeliveries(ledgers.db).sqlOf('replayOne');
    const plan = (
      ledgers.db
        .prepare(`EXPLAIN QUERY PLAN ${replayOne}`)
        .all({ nowMs: T0, deadlineMs: T0, id: 1, firstFailedMs: null }) as { detail: string }[]
    ).map((step) => step.detail);
    assert.deepEqual(plan, ['SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)']);
  });

  it('counts the deliveries kept by status, and clears the last error of one delivered after failing', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(
      ['p1', 'p2', 'ok', 'gone'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })),
    );
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) {
      if (leased.dedupeKey === 'gone') ledger.markFailed(leased.id, 'HTTP 410', null);
      else ledger.markFailed(leased.id, 'HTTP 500', T0 + 10);
    }
    const ok = ledger.leaseDeliveries(T0 + 10, 10, 5000).find((leased) => leased.dedupeKey === 'ok');
    ledger.markDelivered(ok?.id ?? 0, T0 + 10);
    assert.deepEqual(ledger.countDeliveries(), { pending: 2, delivered: 1, dead: 1, redirected: 0 });
    assert.deepEqual(
      ledger.listDeliveries(1, 'delivered', 10).map((row) => [row.dedupeKey, row.lastError, row.deliveredMs]),
      [['ok', '', T0 + 10]],
    );
  });

  it('pages through all of an account’s deliveries without repeating the last of a page', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(['a', 'b', 'c'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })));
    const firstPage = ledger.listDeliveries(1, undefined, 2);
    assert.deepEqual(
      firstPage.map((row) => row.dedupeKey),
      ['c', 'b'],
    );
    assert.deepEqual(
      ledger.listDeliveries(1, undefined, 2, { afterId: firstPage.at(-1)?.id }).map((row) => row.dedupeKey),
      ['a'],
    );
  });

  it('pages through one auction’s deliveries without repeating the last of a page, and lists those counted before its to alone', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    const key = (imp: string) => `${impressionKey({ ...bannerClaims(), auctionId: 'auc-1', impId: imp })}`;
    ledger.record(
      ['1', '2', '3'].map((imp, n) =>
        event({ receivedMs: T0 + n * 1000, dedupe: { key: key(imp), expiresMs: T0 + HOUR_MS }, delivery }),
      ),
    );
    const keysOf = (rows: { dedupeKey: string }[]) => rows.map((row) => row.dedupeKey);
    const firstPage = ledger.listDeliveries(1, undefined, 2, { auctionId: 'auc-1' });
    assert.deepEqual(keysOf(firstPage), [key('3'), key('2')]);
    assert.deepEqual(
      keysOf(ledger.listDeliveries(1, undefined, 2, { auctionId: 'auc-1', afterId: firstPage.at(-1)?.id })),
      [key('1')],
    );
    assert.deepEqual(
      keysOf(ledger.listDeliveries(1, undefined, 10, { auctionId: 'auc-1', createdToMs: T0 + 1000 })),
      [key('1')],
      'to is exclusive',
    );
  });

  it('lists the deliveries of a window of time though a clock stepped back a few minutes queued them out of order', () => {
    const MINUTE_MS = 60_000;
    ledger.record([
      queued('before', 'https://dsp.example/b', T0),
      queued('in-window', 'https://dsp.example/b', T0 + 5 * MINUTE_MS),
      // The clock stepped back four minutes.
      queued('stepped-back', 'https://dsp.example/b', T0 + MINUTE_MS),
      queued('last', 'https://dsp.example/b', T0 + 6 * MINUTE_MS),
    ]);
    assert.deepEqual(
      ledger
        .listDeliveries(1, undefined, 10, { createdFromMs: T0 + 2 * MINUTE_MS })
        .map((row) => row.dedupeKey),
      ['last', 'in-window'],
    );
  });
});
