import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COUNTED, invalidTraffic, notCounted } from '../../domain/outcome.js';
import { openSqlite } from './database.js';
import { idBoundsSql } from './id-window.js';
import { CLAIM_LOAD_MARGIN_MS } from './ledger-claims.js';
import { SqliteLedger } from './ledger.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { HOUR_MS } from '../../lib/time.js';
import { ledgerPerTest, T0_HOUR, HOUR_AROUND_T0 } from '../../../test/support/sqlite-ledgers.js';
import { sqlPreparedBy } from '../../../test/support/prepared-sql.js';

const event = exchangeEvent;
let ledger: SqliteLedger;
const ledgers = ledgerPerTest('tally-ledger-pruning-', (opened) => {
  ledger = opened;
});

describe('the SQLite ledger’s retention pruning', () => {
  it('prunes raw events that did not count and delivered or redirected burls after the retention, but keeps the billing records', () => {
    const delivery = { url: 'u', deadlineMs: T0 + 1000 };
    const redirected = { url: 'r', deadlineMs: T0, redirected: true } as const;
    ledger.record([
      event({ dedupe: { key: 'p1', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'p2', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'p3', expiresMs: T0 + 1 }, delivery: redirected }),
      event({ outcome: invalidTraffic('bot_user_agent') }),
    ]);
    ledger.record([event({ receivedMs: T0 + 60_000 })]);
    // The newest delivery, kept as the newest always is (see below).
    ledger.record([event({ receivedMs: T0 + 60_000, dedupe: { key: 'p4', expiresMs: T0 + 1 }, delivery })]);
    const [first] = ledger.leaseDeliveries(T0, 1, 5000);
    ledger.markDelivered(first?.id ?? 0, T0);
    assert.deepEqual(ledger.prune(T0 + 1, 100), { events: 1, deliveries: 2, done: true });
    assert.deepEqual(ledger.countEvents(), { total: 5, counted: 5 });
    assert.equal(ledger.listDeliveries(1, 'pending', 10).length, 2, 'pending deliveries stay');
  });

  it('answers the same report after pruning as before: reports read the rollups, which pruning leaves', () => {
    const bot = invalidTraffic('bot_user_agent');
    for (let minute = 0; minute < 30; minute++) {
      ledger.record([
        event({ receivedMs: T0 + minute * 60_000, dedupe: { key: `r${minute}`, expiresMs: T0 + HOUR_MS } }),
        event({ receivedMs: T0 + minute * 60_000, outcome: bot, servedHourMs: T0_HOUR + HOUR_MS }),
      ]);
    }
    const query = {
      ...HOUR_AROUND_T0,
      toMs: T0_HOUR + 2 * HOUR_MS,
      groupBy: ['hour', 'outcome', 'reason'] as const,
    };
    const before = ledger.report(query);
    assert.equal(
      ledger.prune(T0 + 1000 * 60_000, 1000).events,
      29,
      'every event that did not count but the newest',
    );
    assert.deepEqual(ledger.report(query), before);
    assert.deepEqual(
      before.map((row) => [row.outcome, row.events, row.priceMicros]),
      [
        ['counted', 30, 30_000_000],
        ['not_counted', 30, 0],
      ],
    );
  });

  it('prunes exactly the events received before the cutoff, found by id without a time index', () => {
    const bot = invalidTraffic('bot_user_agent');
    for (let minute = 0; minute < 50; minute++) {
      ledger.record([
        event({ receivedMs: T0 + minute * 60_000, outcome: bot }),
        event({ receivedMs: T0 + minute * 60_000 }),
      ]);
    }
    assert.deepEqual(ledger.prune(T0 + 20 * 60_000, 1000), { events: 20, deliveries: 0, done: true });
    assert.equal(ledger.prune(T0 + 20 * 60_000, 1000).events, 0, 'nothing left before the cutoff');
    assert.equal(ledger.prune(T0 + 1000 * 60_000, 1000).events, 30);
    assert.deepEqual(ledger.countEvents(), { total: 50, counted: 50 });
  });

  it('finds the first and last event or delivery ids for a pruning step or a window from the ends of the table, never scanning it', () => {
    for (const table of ['event_rows', 'deliveries'] as const) {
      const steps = (
        ledgers.db.prepare(`EXPLAIN QUERY PLAN ${idBoundsSql(table)}`).all() as {
          detail: string;
        }[]
      ).map((step) => step.detail);
      assert.notEqual(steps.length, 0, `${table}: the query plan has steps`);
      for (const step of steps) assert.doesNotMatch(step, new RegExp(`^SCAN ${table}`), steps.join('; '));
    }
  });

  it('prunes in bounded steps, each resuming where the last stopped, past the billing records it keeps', () => {
    const bot = invalidTraffic('bot_user_agent');
    for (let minute = 0; minute < 60; minute++) {
      ledger.record([
        event({ receivedMs: T0 + minute * 60_000 }),
        event({ receivedMs: T0 + minute * 60_000, outcome: bot }),
      ]);
    }
    const steps = [];
    for (let step = ledger.prune(T0 + 45 * 60_000, 10); ; step = ledger.prune(T0 + 45 * 60_000, 10)) {
      steps.push(step);
      if (step.done) break;
    }
    assert.equal(steps.length, 10, 'ids 1 to 90 precede the cutoff: ten windows of ten ids from id 0');
    assert.deepEqual(
      steps.filter((step) => step.events > 10),
      [],
      'no step prunes more than its window of ten ids',
    );
    assert.equal(
      steps.reduce((sum, step) => sum + step.events, 0),
      45,
    );
    assert.deepEqual(ledger.countEvents(), { total: 75, counted: 60 });
  });

  it('reads no ledger table whole in a pruning step, so that a step costs its own rows, not the ledger’s dimensions or events', () => {
    const path = ledgers.newPath('prune-plan');
    const db = openSqlite(path);
    const planned = new SqliteLedger(db);
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    planned.record([
      event({ dedupe: { key: 'p1', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'p2', expiresMs: T0 + 1 }, delivery }),
      event({ outcome: invalidTraffic('bot_user_agent') }),
    ]);
    // The newest event, which pruning keeps.
    planned.record([event({ receivedMs: T0 + 60_000 })]);
    const [leased] = planned.leaseDeliveries(T0, 1, 5000);
    planned.markDelivered(leased?.id ?? 0, T0);
    planned.loadClaims(T0 + HOUR_MS);
    const statements = sqlPreparedBy(db, () =>
      assert.deepEqual(planned.prune(T0 + 1, 100, T0 + HOUR_MS), { events: 1, deliveries: 1, done: true }),
    );
    const scans = statements.flatMap((sql) => {
      const parameters = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 0);
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[];
      return plan
        .map((step) => step.detail)
        .filter((detail) => /^SCAN (event_rows|event_dims|deliveries|rollup_hourly)\b/.test(detail))
        .map((detail) => `${detail}: ${sql.replace(/\s+/g, ' ')}`);
    });
    planned.close();
    assert.deepEqual(scans, []);
  });

  it('keeps the newest delivery, so that a new delivery never takes the id of one pruned (its X-Tally-Delivery-Id)', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(['d1', 'd2'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })));
    const leased = ledger.leaseDeliveries(T0, 10, 5000);
    for (const { id } of leased) ledger.markDelivered(id, T0);
    assert.equal(ledger.prune(T0 + 1, 100).deliveries, 1, 'the older delivered one goes');
    ledger.record([
      event({ receivedMs: T0 + 60_000, dedupe: { key: 'd3', expiresMs: T0 + HOUR_MS }, delivery }),
    ]);
    const [fresh] = ledger.leaseDeliveries(T0 + 60_000, 10, 5000);
    assert.ok(fresh !== undefined, 'the new delivery is leased');
    assert.ok(
      leased.every(({ id }) => id < fresh.id),
      `a new impression's delivery ${fresh.id} must not reuse a pruned one's id (${leased.map(({ id }) => id).join(', ')})`,
    );
  });

  it('keeps the newest event, so that new events never take an id below where pruning has been', () => {
    const bot = invalidTraffic('bot_user_agent');
    ledger.record([event(), event({ outcome: bot })]);
    assert.equal(ledger.prune(T0 + 60_000, 100).events, 0, 'the newest event stays');
    ledger.record([event({ receivedMs: T0 + 120_000, outcome: bot })]);
    assert.equal(ledger.prune(T0 + 60_000, 100).events, 1, 'no longer the newest, it goes');
    assert.deepEqual(ledger.countEvents(), { total: 2, counted: 1 });
  });

  /**
   * Records an impression counted on the publisher's burl with a TTL of 7 days (a `TALLY_RULES`
   * TTL longer than a retention of 1 day), its DSP burl queued (not redirected) and delivered, then
   * a newer delivery, so that the delivered one is not the newest (which is always kept).
   */
  function deliveredLongTtlBurl() {
    const DAY_MS = 24 * HOUR_MS;
    const claim = { key: 'long-ttl', expiresMs: T0 + 7 * DAY_MS };
    const burlDims = { ...event().dims, kind: 'burl' as const, method: 'burl' as const };
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    assert.deepEqual(ledger.record([event({ dims: burlDims, dedupe: claim, delivery })]), [COUNTED]);
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) ledger.markDelivered(leased.id, T0);
    ledger.record([
      event({ receivedMs: T0 + HOUR_MS, dedupe: { key: 'newer', expiresMs: T0 + 2 * HOUR_MS }, delivery }),
    ]);
    return { DAY_MS, claim, burlDims, delivery };
  }

  it("keeps a delivered burl past the retention while its claim lives, so that a repeat of the publisher's burl is a plain duplicate, never a second 302 to the DSP", () => {
    const { DAY_MS, claim, burlDims, delivery } = deliveredLongTtlBurl();
    const pruneAtMs = T0 + 2 * DAY_MS;
    assert.equal(ledger.prune(pruneAtMs - DAY_MS, 100, pruneAtMs).deliveries, 0, 'its claim lives');
    assert.equal(ledger.countDeliveries().delivered, 1);
    const repeat = event({
      receivedMs: pruneAtMs + 1,
      dims: burlDims,
      dedupe: claim,
      delivery: { ...delivery, redirected: true },
    });
    assert.deepEqual(ledger.record([repeat]), [notCounted('duplicate')]);
    // Once the claim has expired, the delivery goes at the next pass.
    const laterMs = claim.expiresMs + CLAIM_LOAD_MARGIN_MS + 1;
    assert.equal(ledger.prune(laterMs - DAY_MS, 100, laterMs).deliveries, 1, 'its claim has ended');
  });

  it('keeps a delivered burl whose claim lives by a clock stepped back after the index dropped the claim ahead', () => {
    const { DAY_MS, claim } = deliveredLongTtlBurl();
    // The clock steps a week and more forward: by it the claim has expired, and enough new claims
    // come that the index reuses its slot and replaces its table.
    const aheadMs = claim.expiresMs + 3 * HOUR_MS;
    for (let index = 0; index < 64; index++) {
      const other = event({
        receivedMs: aheadMs,
        dims: { ...event().dims, auctionId: `ahead-${index}` },
        dedupe: { key: `ahead-${index}`, expiresMs: aheadMs + 600_000 },
      });
      assert.deepEqual(ledger.record([other]), [COUNTED]);
    }
    // Stepped back to the right time, a pass prunes: the claim lives, so its delivery stays.
    const pruneAtMs = T0 + 2 * DAY_MS;
    assert.equal(ledger.prune(pruneAtMs - DAY_MS, 100, pruneAtMs).deliveries, 0, 'its claim lives');
    assert.equal(ledger.countDeliveries().delivered, 1);
  });

  it('prunes the delivered burls whose claims have ended behind more kept ones than a step reads', () => {
    const DAY_MS = 24 * HOUR_MS;
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    // The oldest ones under a TTL of 7 days; after them, ones under a TTL of ten minutes.
    const keys = [...['a', 'b', 'c', 'd', 'e'].map((key) => `long-${key}`), 'short-1', 'short-2', 'short-3'];
    keys.forEach((key, index) => {
      const expiresMs = T0 + index + (key.startsWith('long') ? 7 * DAY_MS : 600_000);
      ledger.record([event({ receivedMs: T0 + index, dedupe: { key, expiresMs }, delivery })]);
    });
    ledger.record([
      event({ receivedMs: T0 + HOUR_MS, dedupe: { key: 'newest', expiresMs: T0 + 2 * HOUR_MS }, delivery }),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + HOUR_MS, 100, 5000))
      ledger.markDelivered(leased.id, T0 + HOUR_MS);
    const pruneAtMs = T0 + 2 * DAY_MS;
    let deliveries = 0;
    for (let steps = 0; steps < 20; steps++) {
      const step = ledger.prune(pruneAtMs - DAY_MS, 2, pruneAtMs);
      deliveries += step.deliveries;
      if (step.done) break;
    }
    assert.equal(deliveries, 3, 'the three whose claims ended are pruned in the pass');
    // The five whose claims live stay, and the newest.
    assert.equal(ledger.countDeliveries().delivered, 6);
  });

  it('says a prune pass is not done while delivered burls past the retention remain beyond its step', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(
      ['x1', 'x2', 'x3', 'x4'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })),
    );
    // A pass while they were pending has already been through the events.
    assert.deepEqual(ledger.prune(T0 + 1, 10), { events: 0, deliveries: 0, done: true });
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) ledger.markDelivered(leased.id, T0);
    assert.deepEqual(ledger.prune(T0 + 1, 2), { events: 0, deliveries: 2, done: false });
    assert.deepEqual(ledger.prune(T0 + 1, 2), { events: 0, deliveries: 1, done: true });
    assert.equal(ledger.countDeliveries().delivered, 1, 'the newest is kept');
  });
});
