import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';
import { api, serveOnFreePort } from '../support/server.js';
import type { ServeProcess } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { migrateAsOlderTally } from '../support/older-schema.js';
import { until } from '../support/until.js';
import { CHROME } from '../support/user-agents.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
/** Before migration 9 escaped the ids in dedupe keys, 13 kept each delivery's host and 18 its seat. */
const OLDER_SCHEMA = 8;
/** An auction id holding a backslash: its dedupe key is one migration 9 rewrites. */
const OLD_AUCTION = 'old\\1';
const SEAT = 'seat-old';
const HOUR_MS = 3_600_000;

let dsp: FakeDsp;
let dataDir: string;
let serve: ServeProcess | undefined;

before(async () => {
  dsp = await startDsp();
  dataDir = mkdtempSync(join(tmpdir(), 'tally-upgrade-'));
});

after(async () => {
  if (serve !== undefined && serve.child.exitCode === null && serve.child.signalCode === null) {
    const exited = new Promise((resolve) => serve?.child.once('exit', resolve));
    serve.child.kill('SIGTERM');
    await exited;
  }
  await dsp?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * A ledger as a Tally of schema version 8 left it, the notice of `OLD_AUCTION` counted a minute ago
 * (its claim live for an hour) and its DSP burl still pending, as that version wrote them.
 */
function olderLedger(dbPath: string, burl: string): void {
  migrateAsOlderTally(dbPath, OLDER_SCHEMA);
  const db = new Database(dbPath);
  try {
    const nowMs = Date.now() - 60_000;
    // Joined unescaped, as before migration 9.
    const key = ['x', '1', OLD_AUCTION, '1', 'b', SEAT].join('\u001f');
    db.prepare(`INSERT INTO accounts (id, name, created_ms) VALUES (1, 'default', ?)`).run(nowMs);
    const dims = db
      .prepare(
        `INSERT INTO event_dims (account_id, outcome, reason, impression_type, format, channel, method, seat,
           publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing,
           kind, currency, ivt_rule)
         VALUES (1, 'counted', '', 'exchange', 'banner', 'web', 'adm', ?, '', 0, 0, 0, 0, 0, 0, 'adm', 'USD', '')`,
      )
      .run(SEAT).lastInsertRowid;
    db.prepare(
      `INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
         media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
       VALUES (?, ?, ?, ?, '1', 'b', 1000000, 0, 0, '198.51.100.1', ?, ?, ?)`,
    ).run(nowMs, nowMs - (nowMs % HOUR_MS), dims, OLD_AUCTION, CHROME, key, nowMs + HOUR_MS);
    db.prepare(
      `INSERT INTO deliveries (account_id, dedupe_key, url, device_ip, user_agent, status, created_ms, due_ms,
         deadline_ms)
       VALUES (1, ?, ?, '198.51.100.1', ?, 'pending', ?, ?, ?)`,
    ).run(key, burl, CHROME, nowMs, nowMs, nowMs + 3 * HOUR_MS);
  } finally {
    db.close();
  }
}

describe('upgrading a ledger an older Tally left', () => {
  it('sends the burl it left pending, refuses its counted impression again, and bills new ones alongside', async () => {
    const dbPath = join(dataDir, 'tally.db');
    olderLedger(dbPath, `${dsp.url}/bill?auction=old`);
    const started = await serveOnFreePort(dataDir, {
      TALLY_ADMIN_KEY: ADMIN_KEY,
      TALLY_BURL_PRIVATE_NETWORKS: 'allow',
    });
    serve = started.serve;
    const { url } = started;

    const wins = [OLD_AUCTION, 'new-1'].map((id) => ({
      request: { id, imp: [{ id: '1', banner: {} }], site: {} },
      seat: SEAT,
      bid: { id: 'b', impid: '1', price: 1, adm: '<p>ad</p>', burl: `${dsp.url}/bill?auction=${id}` },
    }));
    const registered = await api({ url }, ADMIN_KEY, 'POST', '/v1/wins', { wins });
    assert.equal(registered.status, 200);
    for (const result of registered.body.results) {
      const response = await fetch(result.noticeUrls.adm, { headers: { 'user-agent': CHROME } });
      await response.arrayBuffer();
      assert.equal(response.status, 200);
    }
    await dsp.waitFor((hits) =>
      ['old', 'new-1'].every((id) => hits.some((hit) => hit.query.get('auction') === id)),
    );
    // The DSP answered; the dispatcher marks each delivery delivered right after, on its own thread.
    await until(async () => {
      const page = await api({ url }, ADMIN_KEY, 'GET', '/v1/deliveries?status=delivered');
      return page.body.deliveries.length === 2;
    }, 'both deliveries delivered');

    const db = new Database(dbPath, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
      const outcomes = db
        .prepare(`SELECT auction_id AS auction, outcome, reason FROM events ORDER BY id`)
        .all() as { auction: string; outcome: string; reason: string }[];
      assert.deepEqual(outcomes, [
        { auction: OLD_AUCTION, outcome: 'counted', reason: '' },
        { auction: OLD_AUCTION, outcome: 'not_counted', reason: 'duplicate' },
        { auction: 'new-1', outcome: 'counted', reason: '' },
      ]);
      const deliveries = db.prepare(`SELECT url, seat, status FROM deliveries ORDER BY id`).all() as {
        url: string;
        seat: string;
        status: string;
      }[];
      assert.deepEqual(
        deliveries.map((delivery) => [
          new URL(delivery.url).searchParams.get('auction'),
          delivery.seat,
          delivery.status,
        ]),
        [
          ['old', SEAT, 'delivered'],
          ['new-1', SEAT, 'delivered'],
        ],
      );
    } finally {
      db.close();
    }
    assert.equal(dsp.hits.filter((hit) => hit.query.get('auction') === OLD_AUCTION).length, 0);
  });
});
