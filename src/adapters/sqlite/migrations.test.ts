import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqlite, SchemaTooNewError } from './database.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { migrateAsNewerTally } from '../../../test/support/newer-schema.js';
import { openAsOlderTally } from '../../../test/support/older-schema.js';
import { impressionKey, readImpressionKey } from '../../domain/impression-key.js';
import { bannerClaims } from '../../../test/support/claims.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { byOutcomeAndCurrency, HOUR_AROUND_T0, T0_HOUR } from '../../../test/support/sqlite-ledgers.js';
import { COUNTED, notCounted } from '../../domain/outcome.js';
import { HOUR_MS } from '../../lib/time.js';
import { SqliteCatalogStore } from './catalog.js';
import { SqliteLedger } from './ledger.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-migrations-'));
const event = exchangeEvent;
after(() => rmSync(dir, { recursive: true, force: true }));

/** How long the other connection holds the write lock over its uncommitted first migration. */
const HOLD_MS = 500;

describe('the SQLite migrations', () => {
  it('refuses a database a newer Tally migrated, naming both versions, and leaves it as it was', () => {
    const path = join(dir, 'newer.db');
    const newer = migrateAsNewerTally(path);
    const before = readFileSync(path);

    assert.throws(
      () => openSqlite(path),
      (error: unknown) =>
        error instanceof SchemaTooNewError &&
        error.schemaVersion === newer &&
        error.knownVersion === SQLITE_MIGRATIONS.length &&
        error.message.includes(`schema version ${newer}`),
    );
    const reopened = new Database(path, { readonly: true });
    assert.equal(reopened.pragma('user_version', { simple: true }), newer);
    reopened.close();
    assert.deepEqual(readFileSync(path), before);
  });

  it('moves the claims of a database made before claims lived on events onto those events', () => {
    const path = join(dir, 'upgrade.db');
    const old = openAsOlderTally(path, 3);
    old.exec(`INSERT INTO events (received_ms, served_hour_ms, account_id, impression_type, outcome, reason, ivt_rule,
        kind, format, channel, method, seat, publisher, auction_id, imp_id, bid_id, currency, advertiser_id, line_item_id,
        tracker_id, placement_id, payment_rule_id, cachebuster_missing, price_micros, media_cost_micros, revenue_micros,
        device_ip, user_agent, dedupe_key)
      VALUES (${T0}, ${T0}, 1, 'exchange', 'counted', '', '', 'adm', 'banner', 'web', 'adm', 's', 'p', 'a', '1', 'b',
        'USD', 0, 0, 0, 0, 0, 0, 1, 0, 0, '', '', 'old-key');
      INSERT INTO claims (dedupe_key, expires_ms) VALUES ('old-key', ${T0 + 600_000});`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    assert.deepEqual(upgraded.record([event({ dedupe: { key: 'old-key', expiresMs: T0 + 600_000 } })]), [
      { outcome: 'not_counted', reason: 'duplicate' },
    ]);
    upgraded.close();
  });

  it('keeps every column of every event through the move of shared dims to event_dims (migration 8)', () => {
    const path = join(dir, 'dims-upgrade.db');
    const old = openAsOlderTally(path, 7);
    const insert =
      old.prepare(`INSERT INTO events (received_ms, served_hour_ms, account_id, impression_type, outcome,
        reason, ivt_rule, kind, format, channel, method, seat, publisher, auction_id, imp_id, bid_id, currency,
        advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (?, ?, 1, 'exchange', ?, ?, ?, 'adm', 'banner', 'web', 'adm', ?, 'p', ?, '1', 'b', 'USD', 0, 0, 0, 0, 0, 0,
        ?, 0, 0, '203.0.113.9', 'UA/1', ?, ?)`);
    insert.run(T0, T0, 'counted', '', '', 's1', 'a1', 1000, 'key-a1', T0 + 600_000);
    insert.run(T0 + 1, T0, 'counted', '', '', 's1', 'a2', 2000, 'key-a2', T0 + 600_000);
    insert.run(T0 + 2, T0, 'not_counted', 'invalid_traffic', 'bot_user_agent', 's2', 'a3', 3000, null, 0);
    const before = old.prepare('SELECT * FROM events ORDER BY id').all();
    old.close();

    const upgraded = new SqliteLedger(openSqlite(path));
    assert.deepEqual(upgraded.record([event({ dedupe: { key: 'key-a1', expiresMs: T0 + 600_000 } })]), [
      { outcome: 'not_counted', reason: 'duplicate' },
    ]);
    upgraded.close();
    const reader = new Database(path, { readonly: true });
    const after = reader.prepare('SELECT * FROM events ORDER BY id').all();
    // Every column it had, and no VAST error code (migration 20 added the column).
    assert.deepEqual(
      after.slice(0, 3),
      before.map((row) => ({ ...(row as object), vast_error: null })),
    );
    assert.equal(reader.prepare('SELECT COUNT(*) FROM event_dims').pluck().get(), 3);
    reader.close();
  });

  it('rewrites the dedupe keys of ids holding U+001F or a backslash as impressionKey now spells them (migration 9)', () => {
    const path = join(dir, 'rekey-upgrade.db');
    const old = openAsOlderTally(path, 8);
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES (1, 1, 'counted', '', 'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0, 'adm', 'USD', '')`);
    const insert =
      old.prepare(`INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id,
        bid_id, price_micros, media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (${T0}, ${T0}, 1, ?, ?, 'b', 1000, 0, 0, '', '', ?, ${T0 + 600_000})`);
    // Keys as they were spelled before: the ids joined as they are.
    const oldKey = (auctionId: string, impId: string) =>
      ['x', 1, auctionId, impId, 'b', 'seat'].join('\u001f');
    insert.run('a\u001fb', 'c', oldKey('a\u001fb', 'c'));
    insert.run('back\\slash', '1', oldKey('back\\slash', '1'));
    insert.run('plain', '1', oldKey('plain', '1'));
    insert.run('', '', 'imptr\u001f5\u001fcb\u001fx');
    // Its key as it was spelled is the first impression's key as it is spelled now: rewriting
    // the first must not trip over it.
    insert.run('a\\sb', 'c', oldKey('a\\sb', 'c'));
    const delivery =
      old.prepare(`INSERT INTO deliveries (account_id, dedupe_key, url, device_ip, user_agent, status,
        created_ms, due_ms, deadline_ms) VALUES (1, ?, 'https://dsp.example/burl', '', '', 'pending', 0, 0, 1)`);
    delivery.run(oldKey('a\u001fb', 'c'));
    delivery.run(oldKey('a\\sb', 'c'));
    old.close();

    const upgraded = new SqliteLedger(openSqlite(path));
    const key = (auctionId: string, impId: string) =>
      impressionKey(bannerClaims({ accountId: 1, auctionId, impId, bidId: 'b', seat: 'seat' }));
    const notice = (auctionId: string, impId: string) =>
      event({ dedupe: { key: key(auctionId, impId), expiresMs: T0 + 600_000 } });
    assert.deepEqual(
      upgraded.record([
        notice('a\u001fb', 'c'),
        notice('a', 'b\u001fc'),
        notice('back\\slash', '1'),
        notice('plain', '1'),
        notice('a\\sb', 'c'),
      ]),
      [
        { outcome: 'not_counted', reason: 'duplicate' },
        COUNTED,
        { outcome: 'not_counted', reason: 'duplicate' },
        { outcome: 'not_counted', reason: 'duplicate' },
        { outcome: 'not_counted', reason: 'duplicate' },
      ],
    );
    upgraded.close();
    const reader = new Database(path, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT dedupe_key FROM deliveries ORDER BY id').pluck().all(), [
      key('a\u001fb', 'c'),
      key('a\\sb', 'c'),
    ]);
    assert.deepEqual(
      reader.prepare('SELECT dedupe_key FROM event_rows WHERE id <= 5 ORDER BY id').pluck().all(),
      [
        key('a\u001fb', 'c'),
        key('back\\slash', '1'),
        oldKey('plain', '1'),
        'imptr\u001f5\u001fcb\u001fx',
        key('a\\sb', 'c'),
      ],
    );
    reader.close();
  });

  it('splits the counted rollups of an older database by currency, rebuilt from the billing records (migration 10)', () => {
    const path = join(dir, 'currency-upgrade.db');
    const hour = T0_HOUR;
    const old = openAsOlderTally(path, 9);
    const dims = `'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0`;
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES (1, 1, 'counted', '', ${dims}, 'adm', 'USD', ''), (2, 1, 'counted', '', ${dims}, 'adm', 'EUR', '');
      INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (${T0}, ${hour}, 1, 'a1', '1', 'b', 300000000, 0, 0, '', '', NULL, 0),
        (${T0}, ${hour}, 2, 'a2', '1', 'b', 2000000, 0, 0, '', '', NULL, 0);
      -- As version 9 kept them: one row adding both currencies; the event that did not count is pruned.
      INSERT INTO rollup_hourly VALUES (${hour}, 1, 'counted', '', ${dims}, 2, 302000000, 0, 0),
        (${hour}, 1, 'not_counted', 'invalid_traffic', ${dims}, 1, 0, 0, 0);`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    assert.deepEqual(byOutcomeAndCurrency(upgraded), [
      ['counted', 'EUR', 1, 2_000_000],
      ['counted', 'USD', 1, 300_000_000],
      ['not_counted', '', 1, 0],
    ]);
    upgraded.close();
  });

  it('rebuilds the counted rollups of an older database by the hour each event was served, with all its amounts (migration 10)', () => {
    const path = join(dir, 'currency-upgrade-hours.db');
    const old = openAsOlderTally(path, 9);
    const dims = `'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0`;
    const next = T0_HOUR + HOUR_MS;
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES (1, 1, 'counted', '', ${dims}, 'adm', 'USD', '');
      INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (${T0}, ${T0_HOUR}, 1, 'a1', '1', 'b', 1000, 100, 300, '', '', NULL, 0),
        (${T0}, ${T0_HOUR}, 1, 'a2', '1', 'b', 2000, 200, 700, '', '', NULL, 0),
        (${next}, ${next}, 1, 'a3', '1', 'b', 4000, 400, 500, '', '', NULL, 0);
      INSERT INTO rollup_hourly VALUES (${T0_HOUR}, 1, 'counted', '', ${dims}, 2, 3000, 300, 1000),
        (${next}, 1, 'counted', '', ${dims}, 1, 4000, 400, 500);`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    const rows = upgraded.report({ ...HOUR_AROUND_T0, toMs: next + HOUR_MS, groupBy: ['hour'] });
    upgraded.close();
    assert.deepEqual(
      rows.map((row) => [row.hour, row.events, row.priceMicros, row.mediaCostMicros, row.revenueMicros]),
      [
        [new Date(T0_HOUR).toISOString(), 2, 3000, 300, 1000],
        [new Date(next).toISOString(), 1, 4000, 400, 500],
      ],
    );
  });

  it('rebuilds the counted rollups of an older database apart by each dimension and account, by the hour served, free ones too, and keeps the others as they were (migration 10)', () => {
    const path = join(dir, 'currency-upgrade-dims.db');
    const old = openAsOlderTally(path, 9);
    const next = T0_HOUR + HOUR_MS;
    /** An event_dims row: id, account, outcome, reason, format, seat, payment rule. */
    const dims = (
      id: number,
      account: number,
      outcome: string,
      reason: string,
      format: string,
      seat: string,
      rule: number,
    ) =>
      `(${id}, ${account}, '${outcome}', '${reason}', 'exchange', '${format}', 'web', 'adm', '${seat}', 'pub', 0, 0, 0, 0, ${rule}, 0, 'adm', 'USD', '')`;
    /** An event_rows row of `dimsId`, received at `receivedMs`, served in the hour of T0. */
    const row = (dimsId: number, receivedMs: number, priceMicros: number) =>
      `(${receivedMs}, ${T0_HOUR}, ${dimsId}, 'a${dimsId}-${receivedMs}', '1', 'b', ${priceMicros}, 0, 0, '', '', NULL, 0)`;
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES ${[
        dims(1, 1, 'counted', '', 'banner', 'seat', 0),
        dims(2, 1, 'counted', '', 'banner', 's2', 0),
        dims(3, 1, 'counted', '', 'video', 'seat', 0),
        dims(4, 1, 'counted', '', 'banner', 'seat', 7),
        dims(5, 2, 'counted', '', 'banner', 'seat', 0),
        dims(6, 1, 'not_counted', 'late', 'banner', 'seat', 0),
      ].join(', ')};
      INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES ${[
        row(1, T0, 1000),
        row(1, T0 + 60_000, 2000),
        // Counted for nothing (a free impression): still an event.
        row(1, T0, 0),
        // Received in the next hour: reported under the hour it was served.
        row(2, next + 60_000, 10),
        row(3, T0, 20),
        row(4, T0, 30),
        row(5, T0, 40),
        // Not pruned yet: its rollup row is kept, not rebuilt.
        row(6, T0, 50),
      ].join(', ')};
      INSERT INTO rollup_hourly VALUES
        (${T0_HOUR}, 1, 'not_counted', 'late', 'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0, 3, 0, 0, 0);`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    const report = (accountId: number) =>
      upgraded
        .report({
          ...HOUR_AROUND_T0,
          accountId,
          toMs: next + HOUR_MS,
          groupBy: ['hour', 'outcome', 'format', 'seat', 'paymentRule'],
        })
        .map((r) => [r.hour, r.outcome, r.format, r.seat, r.paymentRule, r.events, r.priceMicros]);
    const hour = new Date(T0_HOUR).toISOString();
    assert.deepEqual(report(1), [
      [hour, 'counted', 'banner', 's2', 0, 1, 10],
      [hour, 'counted', 'banner', 'seat', 0, 3, 3000],
      [hour, 'counted', 'banner', 'seat', 7, 1, 30],
      [hour, 'counted', 'video', 'seat', 0, 1, 20],
      [hour, 'not_counted', 'banner', 'seat', 0, 3, 0],
    ]);
    assert.deepEqual(report(2), [[hour, 'counted', 'banner', 'seat', 0, 1, 40]]);
    upgraded.close();
  });

  it('shortens the listed prefix of an operator TALLY_ADMIN_KEY stored before version 11 to 4 characters, and leaves generated keys as they were (migration 11)', () => {
    const path = join(dir, 'admin-prefix.db');
    const old = openAsOlderTally(path, 10);
    old.exec(`INSERT INTO accounts (id, name, created_ms) VALUES (1, 'a', 0);
      INSERT INTO api_keys (account_id, hash, prefix, name, role, scope_type, scope_id, created_ms)
      VALUES (1, 'h1', 'adminadminad', 'TALLY_ADMIN_KEY', 'admin', '', 0, 0),
        (1, 'h2', 'tally_AbCdEf', 'generated admin key', 'admin', '', 0, 0);`);
    old.close();
    const upgraded = openSqlite(path);
    assert.deepEqual(upgraded.prepare('SELECT prefix FROM api_keys ORDER BY id').pluck().all(), [
      'admi',
      'tally_AbCdEf',
    ]);
    upgraded.close();
  });

  it('keeps the host each pending or dead delivery calls, so that the relay can limit its calls to one host (migration 13)', () => {
    const path = join(dir, 'delivery-host.db');
    const old = openAsOlderTally(path, 12);
    const insert = old.prepare(
      `INSERT INTO deliveries (account_id, dedupe_key, url, device_ip, user_agent, status, created_ms, due_ms, deadline_ms)
       VALUES (1, ?, ?, '203.0.113.9', 'ua', ?, 0, 0, 1)`,
    );
    insert.run('pending', 'https://DSP.example:8443/bill?p=1', 'pending');
    insert.run('dead', 'http://dead.example?p=2', 'dead');
    insert.run('delivered', 'https://done.example/bill', 'delivered');
    old.close();
    const upgraded = openSqlite(path);
    assert.deepEqual(upgraded.prepare('SELECT dedupe_key, host FROM deliveries ORDER BY id').raw().all(), [
      ['pending', 'dsp.example:8443'],
      ['dead', 'dead.example'],
      ['delivered', ''],
    ]);
    upgraded.close();
  });

  it('keeps the seat of each delivery, read back from its impression key whatever the seat holds (none from a key of another shape), and lists a seat’s by it (migration 18)', () => {
    const path = join(dir, 'delivery-seat.db');
    const old = openAsOlderTally(path, 17);
    const insert = old.prepare(
      `INSERT INTO deliveries (account_id, dedupe_key, url, host, device_ip, user_agent, status, created_ms, due_ms,
         deadline_ms)
       VALUES (1, ?, 'https://dsp.example/b', 'dsp.example', '203.0.113.9', 'ua', ?, 0, 0, 1)`,
    );
    // Seats whose keys escape them (a backslash, U+001F, both, what looks like an escape), and
    // ids beside them that hold the same.
    const seats = ['dsp-a', 'back\\slash', 'a\u001fb', '\\s', 'ends\\', '\\\u001f\\', 'sièges', ''];
    seats.forEach((seat, index) => {
      const claims = bannerClaims({ accountId: 1, auctionId: `a\\${index}`, impId: 'i\u001f1', seat });
      insert.run(impressionKey(claims), index % 2 === 0 ? 'delivered' : 'dead');
    });
    // Keys of another shape keep '': none, too few ids after the impression's prefix, or as many
    // ids after another prefix.
    const otherKeys = [
      'k-not-an-impression',
      'x\u001f1\u001fa\u001fi',
      't\u001f1\u001fa\u001fi\u001fb\u001fs',
    ];
    for (const key of otherKeys) insert.run(key, 'pending');
    old.close();
    const db = openSqlite(path);
    assert.deepEqual(db.prepare('SELECT seat FROM deliveries ORDER BY id').pluck().all(), [
      ...seats,
      ...otherKeys.map(() => ''),
    ]);
    const ledger = new SqliteLedger(db);
    for (const seat of seats.filter((seat) => seat !== ''))
      assert.deepEqual(
        ledger
          .listDeliveries(1, undefined, 10, { seat })
          .map((delivery) => readImpressionKey(delivery.dedupeKey)?.seat),
        [seat],
        JSON.stringify(seat),
      );
    ledger.close();
  });

  it('keeps every tracker stored before migration 19 fired by browsers, screened as it was, and stores only browser or app (migration 19)', () => {
    const path = join(dir, 'tracker-fired-by.db');
    const old = openAsOlderTally(path, 18);
    old.exec(`INSERT INTO accounts (id, name, created_ms) VALUES (1, 'a', 0);
      INSERT INTO advertisers (id, account_id, name, created_ms, updated_ms) VALUES (2, 1, 'adv', 0, 0);
      INSERT INTO line_items (id, account_id, advertiser_id, name, revenue_type, revenue_value_micros, state,
        created_ms, updated_ms) VALUES (3, 1, 2, 'li', 'none', 0, 'active', 0, 0);
      INSERT INTO publishers (id, account_id, name, created_ms, updated_ms) VALUES (4, 1, 'pub', 0, 0);
      INSERT INTO trackers (id, account_id, kind, advertiser_id, name, line_item_id, publisher_id, state, click_url,
        created_ms, updated_ms)
      VALUES (5, 1, 'impression', 2, 'imp', 3, 4, 'active', NULL, 0, 0),
        (6, 1, 'click', 2, 'clk', 3, 4, 'active', 'https://advertiser.example/', 0, 0);`);
    old.close();
    const db = openSqlite(path);
    const catalog = new SqliteCatalogStore(db);
    assert.deepEqual(
      [5, 6].map((id) => catalog.trackers.get(1, id)?.firedBy),
      ['browser', 'browser'],
    );
    assert.throws(() => db.prepare("UPDATE trackers SET fired_by = 'robot' WHERE id = 5").run(), /CHECK/);
    db.close();
  });

  it('splits the counted rollups by the notice that counted, rebuilt from the counted events, and keeps the others with no notice kind (migration 14)', () => {
    const path = join(dir, 'rollup-kind.db');
    const old = openAsOlderTally(path, 13);
    const dims = old.prepare(
      `INSERT INTO event_dims (account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
         advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency,
         ivt_rule)
       VALUES (1, ?, ?, 'exchange', 'video', 'ctv', 'burl', 's1', 'p1', 0, 0, 0, 0, 0, 0, ?, ?, '') RETURNING id`,
    );
    const vastId = dims.pluck().get('counted', '', 'vast', 'USD') as number;
    const burlId = dims.pluck().get('counted', '', 'burl', 'USD') as number;
    const row = old.prepare(
      `INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
         media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
       VALUES (?, ?, ?, ?, '1', 'b', ?, 0, 0, '203.0.113.9', 'ua', ?, 0)`,
    );
    const hourMs = 1_796_414_400_000;
    row.run(hourMs + 1, hourMs, burlId, 'a1', 2_000_000, 'k1');
    row.run(hourMs + 2, hourMs, burlId, 'a2', 3_000_000, 'k2');
    row.run(hourMs + 3, hourMs, vastId, 'a3', 1_500_000, 'k3');
    const rollup = old.prepare(
      `INSERT INTO rollup_hourly VALUES (?, 1, ?, ?, 'exchange', 'video', 'ctv', 'burl', 's1', 'p1', 0, 0, 0, 0, 0, 0,
         ?, ?, ?, 0, 0)`,
    );
    rollup.run(hourMs, 'counted', '', 'USD', 3, 6_500_000);
    rollup.run(hourMs, 'not_counted', 'not_billing_method', '', 7, 0);
    old.close();
    const upgraded = openSqlite(path);
    assert.deepEqual(
      upgraded
        .prepare(
          'SELECT outcome, reason, kind, currency, events, price_micros FROM rollup_hourly ORDER BY outcome, kind',
        )
        .raw()
        .all(),
      [
        ['counted', '', 'burl', 'USD', 2, 5_000_000],
        ['counted', '', 'vast', 'USD', 1, 1_500_000],
        ['not_counted', 'not_billing_method', '', '', 7, 0],
      ],
    );
    upgraded.close();
  });

  it('moves the invalid traffic whose raw events are kept to its rules’ rows, keeps the rest and every other row with no rule, and adds new rows by their rule (migration 16)', () => {
    const path = join(dir, 'rollup-rule.db');
    const old = openAsOlderTally(path, 15);
    const hourMs = 1_796_414_400_000;
    const dims = old.prepare(
      `INSERT INTO event_dims (account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
         advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency,
         ivt_rule)
       VALUES (1, 'not_counted', 'invalid_traffic', 'exchange', 'banner', 'web', 'adm', 's1', 'p1', 0, 0, 0, 0, 0, 0,
         'adm', 'USD', ?) RETURNING id`,
    );
    const row = old.prepare(
      `INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
         media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
       VALUES (?, ?, ?, 'a', '1', 'b', 1000000, 0, 0, '203.0.113.9', 'bot', 'k', 0)`,
    );
    const bot = dims.pluck().get('bot_user_agent') as number;
    const head = dims.pluck().get('head_request') as number;
    for (const dimsId of [bot, bot, head]) row.run(hourMs + 1, hourMs, dimsId);
    // The next hour: three invalid events recorded before notice kinds were kept (a row of kind ''),
    // one after; all four raw events name their kind.
    const nextHourMs = hourMs + 3_600_000;
    for (let n = 0; n < 4; n++) row.run(nextHourMs + 1, nextHourMs, bot);
    const rollup = old.prepare(
      `INSERT INTO rollup_hourly VALUES (?, 1, ?, ?, 'exchange', 'banner', 'web', 'adm', 's1', 'p1', 0, 0, 0, 0, 0, 0,
         'adm', ?, ?, ?, 0, 0)`,
    );
    rollup.run(hourMs, 'counted', '', 'USD', 3, 6_500_000);
    // Seven invalid events in the hour, four of them pruned since.
    rollup.run(hourMs, 'not_counted', 'invalid_traffic', '', 7, 0);
    rollup.run(nextHourMs, 'not_counted', 'invalid_traffic', '', 1, 0);
    old
      .prepare(
        `INSERT INTO rollup_hourly VALUES (?, 1, 'not_counted', 'invalid_traffic', 'exchange', 'banner', 'web', 'adm',
           's1', 'p1', 0, 0, 0, 0, 0, 0, '', '', 3, 0, 0, 0)`,
      )
      .run(nextHourMs);
    old.close();
    const upgraded = openSqlite(path);
    const rows = () =>
      upgraded
        .prepare(
          'SELECT outcome, reason, ivt_rule, events, price_micros FROM rollup_hourly WHERE hour_ms = ? ORDER BY outcome, ivt_rule',
        )
        .raw()
        .all(hourMs);
    assert.deepEqual(rows(), [
      ['counted', '', '', 3, 6_500_000],
      ['not_counted', 'invalid_traffic', '', 4, 0],
      ['not_counted', 'invalid_traffic', 'bot_user_agent', 2, 0],
      ['not_counted', 'invalid_traffic', 'head_request', 1, 0],
    ]);
    upgraded
      .prepare(
        `INSERT INTO rollup_hourly (hour_ms, account_id, outcome, reason, impression_type, format, channel, method,
           seat, publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing,
           kind, currency, ivt_rule, events, price_micros, media_cost_micros, revenue_micros)
         VALUES (?, 1, 'not_counted', 'invalid_traffic', 'exchange', 'banner', 'web', 'adm', 's1', 'p1', 0, 0, 0, 0,
           0, 0, 'adm', '', 'blocked_ip', 2, 0, 0, 0)`,
      )
      .run(hourMs);
    assert.equal(rows().length, 5, 'a rule of its own: a row of its own');
    assert.deepEqual(
      upgraded
        .prepare('SELECT kind, ivt_rule, events FROM rollup_hourly WHERE hour_ms = ? ORDER BY kind')
        .raw()
        .all(nextHourMs),
      [
        ['', '', 3],
        ['adm', '', 1],
      ],
      'the row of kind adm holds one of the four raw events: none is moved, and the hour still counts four',
    );
    upgraded.close();
  });

  it('reports every event and rollup row recorded before with no VAST error code, keeps billing and pruning them, and keeps new codes apart (migration 20)', () => {
    const path = join(dir, 'vast-error.db');
    const old = openAsOlderTally(path, 19);
    const dims = old.prepare(
      `INSERT INTO event_dims (account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
         advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency,
         ivt_rule)
       VALUES (1, ?, ?, 'exchange', 'video', 'web', 'vast', 's1', 'p1', 0, 0, 0, 0, 0, 0, ?, 'USD', '') RETURNING id`,
    );
    const counted = dims.pluck().get('counted', '', 'vast') as number;
    const vastError = dims.pluck().get('not_counted', 'not_billing_method', 'vast_error') as number;
    const row = old.prepare(
      `INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
         media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
       VALUES (?, ?, ?, 'a1', '1', 'b', ?, 0, 0, '203.0.113.9', 'ua', ?, 0)`,
    );
    const hourMs = 1_796_414_400_000;
    row.run(hourMs + 1, hourMs, counted, 2_000_000, 'k1');
    row.run(hourMs + 2, hourMs, vastError, 2_000_000, 'k1');
    row.run(hourMs + 3, hourMs, vastError, 2_000_000, 'k1');
    const rollup = old.prepare(
      `INSERT INTO rollup_hourly VALUES (?, 1, ?, ?, 'exchange', 'video', 'web', 'vast', 's1', 'p1', 0, 0, 0, 0, 0, 0,
         ?, ?, '', ?, ?, 0, 0)`,
    );
    rollup.run(hourMs, 'counted', '', 'vast', 'USD', 1, 2_000_000);
    rollup.run(hourMs, 'not_counted', 'not_billing_method', 'vast_error', '', 2, 0);
    old.close();

    const ledger = new SqliteLedger(openSqlite(path));
    const window = { accountId: 1, fromMs: hourMs, toMs: hourMs + 3_600_000, filters: {} };
    const byCode = () =>
      ledger
        .report({ ...window, groupBy: ['notice', 'vastError'] })
        .map((row) => [row.notice, row.vastError, row.events, row.priceMicros]);
    assert.deepEqual(byCode(), [
      ['vast', '', 1, 2_000_000],
      ['vast_error', '', 2, 0],
    ]);
    assert.deepEqual(
      ledger.report({ ...window, groupBy: [], filters: { vastError: '' } }).map((row) => row.events),
      [3],
    );
    // A code of its own: a row of its own, and a dims row of its own beside the old one.
    const base = exchangeEvent().dims;
    ledger.record([
      exchangeEvent({
        receivedMs: hourMs + 4,
        servedHourMs: hourMs,
        outcome: notCounted('not_billing_method'),
        dims: {
          ...base,
          kind: 'vast_error',
          format: 'video',
          method: 'vast',
          seat: 's1',
          publisher: 'p1',
          vastError: 303,
        },
      }),
    ]);
    assert.deepEqual(byCode(), [
      ['vast', '', 1, 2_000_000],
      ['vast_error', '', 2, 0],
      ['vast_error', 303, 1, 0],
    ]);
    assert.deepEqual(
      ledger
        .listBillingRecords({ accountId: 1, limit: 10 })
        .records.map((record) => [record.notice, record.auctionId]),
      [['vast', 'a1']],
    );
    // The old notices that did not count go at the retention (not the newest event, kept always).
    assert.equal(ledger.prune(hourMs + 10, 100).events, 2);
    assert.deepEqual(byCode(), [
      ['vast', '', 1, 2_000_000],
      ['vast_error', '', 2, 0],
      ['vast_error', 303, 1, 0],
    ]);
    ledger.close();
    const reader = new Database(path, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT kind, vast_error FROM events ORDER BY id').raw().all(), [
      ['vast', null],
      ['vast_error', 303],
    ]);
    reader.close();
  });

  for (const [left, crashedOn] of [
    ['as that Tally left it', false],
    ['that a start of this Tally then failed on, past migration 21', true],
  ] as const)
    it(`upgrades a ledger of the Tally whose migration 20 was reverted (counted_impressions), ${left}: gets the migration 20 that took its number, keeps its rows and counts into it`, () => {
      const path = join(dir, `reverted-20-${String(crashedOn)}.db`);
      const old = openAsOlderTally(path, 19);
      // Migration 20 of 7bb9b64, reverted by da15dce: a ledger it migrated is at version 20 without
      // the VAST error codes of the migration 20 released since.
      old.exec('CREATE TABLE counted_impressions (dedupe_key TEXT PRIMARY KEY) WITHOUT ROWID;');
      old.pragma('user_version = 20');
      const hourMs = 1_796_414_400_000;
      old.exec(
        `INSERT INTO rollup_hourly VALUES (${hourMs}, 1, 'counted', '', 'exchange', 'banner', 'web', 'adm', 's1', 'p1',
           0, 0, 0, 0, 0, 0, 'adm', 'USD', '', 1, 2000000, 0, 0);
         INSERT INTO counted_impressions VALUES ('k1');`,
      );
      if (crashedOn) {
        old.exec(SQLITE_MIGRATIONS[20] ?? '');
        old.pragma('user_version = 21');
      }
      old.close();

      const ledger = new SqliteLedger(openSqlite(path));
      const window = { accountId: 1, fromMs: hourMs, toMs: hourMs + 3_600_000, filters: {} };
      ledger.record([exchangeEvent({ receivedMs: hourMs + 1, servedHourMs: hourMs })]);
      assert.deepEqual(
        ledger.report({ ...window, groupBy: ['vastError'] }).map((row) => [row.vastError, row.events]),
        [['', 2]],
      );
      ledger.close();
      const reader = new Database(path, { readonly: true });
      assert.equal(reader.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
      assert.deepEqual(
        reader.prepare(`SELECT name FROM sqlite_master WHERE name = 'counted_impressions'`).pluck().all(),
        [],
      );
      reader.close();
    });

  it('keys the hourly rollups by account, then hour, keeping every row of every account and its sums, with no (account, hour) index beside them (migration 22)', () => {
    const path = join(dir, 'rollup-by-account.db');
    const old = openAsOlderTally(path, 21);
    const rollup = old.prepare(
      `INSERT INTO rollup_hourly VALUES (?, ?, ?, ?, 'exchange', 'banner', 'web', 'adm', ?, 'p1', 0, 0, 0, 0, 0, 0,
         'adm', 'USD', '', ?, ?, ?, ?, ?)`,
    );
    const hourMs = 1_796_414_400_000;
    // Three accounts' rows in the same hours, written hour by hour as the old key ordered them.
    for (let hour = 0; hour < 4; hour++)
      for (const accountId of [3, 1, 2])
        for (const seat of ['s1', 's2']) {
          const events = 1 + hour * 10 + accountId;
          rollup.run(
            hourMs + hour * HOUR_MS,
            accountId,
            'counted',
            '',
            seat,
            0,
            events,
            events * 1000,
            events * 700,
            events * 900,
          );
          rollup.run(
            hourMs + hour * HOUR_MS,
            accountId,
            'not_counted',
            'not_billing_method',
            seat,
            303,
            events,
            0,
            0,
            0,
          );
        }
    const everyRow = (db: Database.Database) =>
      db.prepare('SELECT * FROM rollup_hourly ORDER BY account_id, hour_ms, outcome, seat').raw().all();
    const sumsByAccount = (db: Database.Database) =>
      db
        .prepare(
          `SELECT account_id, COUNT(*), SUM(events), SUM(price_micros), SUM(media_cost_micros), SUM(revenue_micros)
           FROM rollup_hourly GROUP BY account_id ORDER BY account_id`,
        )
        .raw()
        .all();
    const rowsBefore = everyRow(old);
    const sumsBefore = sumsByAccount(old);
    old.close();

    const upgraded = openSqlite(path);
    assert.equal(rowsBefore.length, 48);
    assert.deepEqual(everyRow(upgraded), rowsBefore);
    assert.deepEqual(sumsByAccount(upgraded), sumsBefore);
    assert.deepEqual(
      upgraded
        .prepare(`SELECT name FROM pragma_table_info('rollup_hourly') WHERE pk > 0 ORDER BY pk`)
        .pluck()
        .all(),
      [
        'account_id',
        'hour_ms',
        'outcome',
        'reason',
        'impression_type',
        'format',
        'channel',
        'method',
        'seat',
        'publisher',
        'advertiser_id',
        'line_item_id',
        'tracker_id',
        'placement_id',
        'payment_rule_id',
        'cachebuster_missing',
        'kind',
        'currency',
        'ivt_rule',
        'vast_error',
      ],
    );
    assert.equal(upgraded.prepare(`SELECT wr FROM pragma_table_list('rollup_hourly')`).pluck().get(), 1);
    assert.deepEqual(
      upgraded.prepare(`SELECT name, origin FROM pragma_index_list('rollup_hourly')`).raw().all(),
      [['sqlite_autoindex_rollup_hourly_1', 'pk']],
      'the primary key alone: no rollup_hourly_account index',
    );
    upgraded.close();
  });

  it('upgrades a ledger whose event rows name their dims under a foreign key, as migration 8 of c79cffa made them, keeping every event', () => {
    const path = join(dir, 'dims-foreign-key.db');
    const old = openAsOlderTally(path, 7);
    const hourMs = 1_796_414_400_000;
    old
      .prepare(
        `INSERT INTO events (received_ms, served_hour_ms, account_id, impression_type, outcome, reason, ivt_rule, kind,
           format, channel, method, seat, publisher, auction_id, imp_id, bid_id, currency, advertiser_id, line_item_id,
           tracker_id, placement_id, payment_rule_id, cachebuster_missing, price_micros, media_cost_micros,
           revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
         VALUES (?, ?, 1, 'exchange', 'counted', '', '', 'adm', 'banner', 'web', 'adm', 's1', 'p1', 'a1', '1', 'b',
           'USD', 0, 0, 0, 0, 0, 0, 2000000, 0, 0, '203.0.113.9', 'ua', 'k1', 0)`,
      )
      .run(hourMs + 1, hourMs);
    // Migration 8 as c79cffa released it, before 848ae3c took the foreign key out.
    const withForeignKey = (SQLITE_MIGRATIONS[7] ?? '').replace(
      'dims_id INTEGER NOT NULL,',
      'dims_id INTEGER NOT NULL REFERENCES event_dims (id),',
    );
    assert.notEqual(withForeignKey, SQLITE_MIGRATIONS[7]);
    old.exec(withForeignKey);
    old.pragma('user_version = 8');
    old.close();

    const ledger = new SqliteLedger(openSqlite(path));
    ledger.record([exchangeEvent({ receivedMs: hourMs + 2, servedHourMs: hourMs })]);
    assert.deepEqual(
      ledger
        .listBillingRecords({ accountId: 1, limit: 10 })
        .records.map((record) => [record.auctionId, record.priceMicros]),
      [
        ['a1', 2_000_000],
        ['a', 1_000_000],
      ],
    );
    ledger.close();
    const reader = new Database(path, { readonly: true });
    assert.equal(reader.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
    reader.close();
  });

  it('upgrades a ledger whose deliveries keep no account, as migration 1 of the first hour (c2d1b6a to ab8b0a7) made them: each takes its impression’s account, and is listed and leased', () => {
    const path = join(dir, 'deliveries-without-account.db');
    // Migration 1 as it was before d5f48b3 gave each delivery its account.
    const first = (SQLITE_MIGRATIONS[0] ?? '')
      .replace(
        '    account_id INTEGER NOT NULL,\n    dedupe_key TEXT NOT NULL UNIQUE,',
        '    dedupe_key TEXT NOT NULL UNIQUE,',
      )
      .replace('  CREATE INDEX deliveries_account ON deliveries (account_id, id);\n', '');
    assert.doesNotMatch(
      first,
      /deliveries_account|account_id INTEGER NOT NULL,\n {4}dedupe_key TEXT NOT NULL UNIQUE/,
    );
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec(first);
    for (const migration of SQLITE_MIGRATIONS.slice(1, 3)) old.exec(migration);
    old.pragma('user_version = 3');
    const nowMs = Date.now();
    const event = old.prepare(
      `INSERT INTO events (received_ms, served_hour_ms, account_id, impression_type, outcome, reason, ivt_rule, kind,
         format, channel, method, seat, publisher, auction_id, imp_id, bid_id, currency, advertiser_id, line_item_id,
         tracker_id, placement_id, payment_rule_id, cachebuster_missing, price_micros, media_cost_micros,
         revenue_micros, device_ip, user_agent, dedupe_key)
       VALUES (?, ?, ?, 'exchange', 'counted', '', '', 'adm', 'banner', 'web', 'adm', 's1', '', ?, '1', 'b', 'USD', 0,
         0, 0, 0, 0, 0, 1000000, 0, 0, '203.0.113.9', 'ua', ?)`,
    );
    const delivery = old.prepare(
      `INSERT INTO deliveries (dedupe_key, url, device_ip, user_agent, status, created_ms, due_ms, deadline_ms)
       VALUES (?, ?, '203.0.113.9', 'ua', 'pending', ?, ?, ?)`,
    );
    old
      .prepare(`INSERT INTO accounts (id, name, created_ms) VALUES (1, 'default', 0), (2, 'other', 0)`)
      .run();
    for (const [account, auction] of [
      [1, 'a1'],
      [2, 'a2'],
    ] as const) {
      const key = ['x', String(account), auction, '1', 'b', 's1'].join('\u001f');
      event.run(nowMs, nowMs - (nowMs % 3_600_000), account, auction, key);
      delivery.run(key, `https://dsp.example/bill?auction=${auction}`, nowMs, nowMs, nowMs + 3_600_000);
    }
    old.close();

    const ledger = new SqliteLedger(openSqlite(path));
    const listed = (accountId: number) =>
      ledger.listDeliveries(accountId, 'pending', 10).map((listedDelivery) => listedDelivery.url);
    assert.deepEqual(listed(1), ['https://dsp.example/bill?auction=a1']);
    assert.deepEqual(listed(2), ['https://dsp.example/bill?auction=a2']);
    assert.deepEqual(
      ledger
        .leaseDeliveries(nowMs, 10, 60_000)
        .map((leased) => leased.url)
        .sort(),
      ['https://dsp.example/bill?auction=a1', 'https://dsp.example/bill?auction=a2'],
    );
    ledger.close();
  });

  it('applies each migration once when another connection is migrating the same new database', async () => {
    const path = join(dir, 'concurrent.db');
    // The other connection (another process's, in real life: `tally create-account` beside a
    // starting server) has applied the first migration and not committed it yet.
    const holder = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const Database = require(workerData.module);
      const db = new Database(workerData.path);
      db.pragma('journal_mode = WAL');
      db.exec('BEGIN IMMEDIATE');
      db.exec(workerData.migration);
      db.pragma('user_version = 1');
      parentPort.postMessage('holding');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
      db.exec('COMMIT');
      db.close();
      `,
      {
        eval: true,
        workerData: {
          module: createRequire(import.meta.url).resolve('better-sqlite3'),
          path,
          migration: SQLITE_MIGRATIONS[0],
          holdMs: HOLD_MS,
        },
      },
    );
    const exited = once(holder, 'exit');
    await once(holder, 'message');
    // Reads the version while the other's first migration is uncommitted, then must wait for it.
    const db = openSqlite(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
      assert.equal(db.prepare('SELECT COUNT(*) FROM events').pluck().get(), 0);
      assert.equal(db.prepare('SELECT events_below_id FROM prune_progress').pluck().get(), 0);
    } finally {
      db.close();
      await exited;
    }
  });
});
