import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { COUNTED, invalidTraffic } from '../../domain/outcome.js';
import { openSqlite } from './database.js';
import { SqliteLedger } from './ledger.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-ledger-'));
const HOUR_MS = 3_600_000;
let ledger: SqliteLedger;
let sequence = 0;

const event = exchangeEvent;

beforeEach(() => {
  ledger = new SqliteLedger(openSqlite(join(dir, `ledger-${++sequence}.db`)));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('the SQLite ledger', () => {
  it('counts the first claim of an impression and marks the others duplicate, within one batch and across batches', () => {
    const claim = { key: 'k1', expiresMs: T0 + 600_000 };
    const outcomes = ledger.record([event({ dedupe: claim }), event({ dedupe: claim })]);
    assert.deepEqual(outcomes, [COUNTED, { outcome: 'not_counted', reason: 'duplicate' }]);
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [
      { outcome: 'not_counted', reason: 'duplicate' },
    ]);
    assert.deepEqual(ledger.countEvents(), { total: 3, counted: 1 });
  });

  it('lets a claim be taken again once it expired (a tracker cachebuster after five minutes)', () => {
    ledger.record([event({ dedupe: { key: 'cb', expiresMs: T0 + 300_000 } })]);
    const later = T0 + 300_001;
    assert.deepEqual(
      ledger.record([event({ receivedMs: later, dedupe: { key: 'cb', expiresMs: later + 300_000 } })]),
      [COUNTED],
    );
  });

  it('does not claim the key for an event that does not count', () => {
    const claim = { key: 'k2', expiresMs: T0 + 600_000 };
    ledger.record([event({ outcome: invalidTraffic('bot_user_agent'), dedupe: claim })]);
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [COUNTED]);
  });

  it('queues a delivery only for a counted event, once per impression', () => {
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    ledger.record([
      event({ dedupe: { key: 'd1', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'd1', expiresMs: T0 + 1 }, delivery }),
      event({ outcome: invalidTraffic('blocked_ip'), dedupe: { key: 'd2', expiresMs: T0 + 1 }, delivery }),
    ]);
    assert.deepEqual(
      ledger.listDeliveries(1, undefined, 10).map((row) => row.dedupeKey),
      ['d1'],
    );
    assert.deepEqual(ledger.listDeliveries(2, undefined, 10), [], 'another account sees none of them');
  });

  it('leases a due delivery to one caller at a time and retries or kills it on failure', () => {
    ledger.record([
      event({ dedupe: { key: 'd', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + 1000 } }),
    ]);
    const [leased] = ledger.leaseDeliveries(T0, 10, 5000);
    assert.equal(leased?.attempts, 1);
    assert.deepEqual(ledger.leaseDeliveries(T0 + 1, 10, 5000), [], 'hidden while leased');
    ledger.markFailed(leased?.id ?? 0, 'HTTP 500', T0 + 100);
    assert.deepEqual(ledger.leaseDeliveries(T0 + 50, 10, 5000), [], 'not due yet');
    const [again] = ledger.leaseDeliveries(T0 + 100, 10, 5000);
    assert.equal(again?.attempts, 2);
    ledger.markFailed(again?.id ?? 0, 'HTTP 500', null);
    assert.equal(ledger.listDeliveries(1, 'dead', 10)[0]?.lastError, 'HTTP 500');
    assert.equal(ledger.replayDead(T0 + 200, T0 + 5000), 1);
    assert.equal(ledger.leaseDeliveries(T0 + 200, 10, 5000).length, 1);
  });

  it('makes a leased delivery due again when its lease runs out (the process died mid-delivery)', () => {
    ledger.record([
      event({ dedupe: { key: 'x', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + 99_000 } }),
    ]);
    assert.equal(ledger.leaseDeliveries(T0, 10, 5000).length, 1);
    assert.equal(ledger.leaseDeliveries(T0 + 5000, 10, 5000).length, 1);
  });

  it('rolls events up by the hour they were served, with money from counted events only, by any dimension', () => {
    const nextHour = T0 - (T0 % HOUR_MS) + HOUR_MS;
    ledger.record([
      event({ priceMicros: 1_000_000 }),
      event({ priceMicros: 2_000_000, dims: { ...event().dims, seat: 'other' } }),
      event({ servedHourMs: nextHour, outcome: invalidTraffic('head_request') }),
    ]);
    const query = { accountId: 1, fromMs: T0 - HOUR_MS, toMs: T0 + 3 * HOUR_MS, filters: {} };
    assert.deepEqual(ledger.report({ ...query, groupBy: ['hour', 'outcome'] }), [
      {
        hour: new Date(T0 - (T0 % HOUR_MS)).toISOString(),
        outcome: 'counted',
        events: 2,
        priceMicros: 3_000_000,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
      {
        hour: new Date(nextHour).toISOString(),
        outcome: 'not_counted',
        events: 1,
        priceMicros: 0,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
    ]);
    assert.equal(ledger.report({ ...query, groupBy: [], filters: { seat: 'other' } })[0]?.events, 1);
    assert.deepEqual(
      ledger.report({ ...query, accountId: 2, groupBy: [] }),
      [],
      'another account sees nothing',
    );
  });

  it('prunes raw events that did not count and delivered burls after the retention, but keeps the billing records', () => {
    const delivery = { url: 'u', deadlineMs: T0 + 1000 };
    ledger.record([
      event({ dedupe: { key: 'p1', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'p2', expiresMs: T0 + 1 }, delivery }),
      event({ outcome: invalidTraffic('bot_user_agent') }),
    ]);
    const [first] = ledger.leaseDeliveries(T0, 1, 5000);
    ledger.markDelivered(first?.id ?? 0, T0);
    const pruned = ledger.prune(T0 + 1, T0 + 2);
    assert.deepEqual(pruned, { events: 1, deliveries: 1, claims: 2 });
    assert.deepEqual(ledger.countEvents(), { total: 2, counted: 2 });
    assert.equal(ledger.listDeliveries(1, 'pending', 10).length, 1, 'pending deliveries stay');
  });

  it('prunes exactly the events received before the cutoff, found by id without a time index', () => {
    const bot = invalidTraffic('bot_user_agent');
    for (let minute = 0; minute < 50; minute++) {
      ledger.record([
        event({ receivedMs: T0 + minute * 60_000, outcome: bot }),
        event({ receivedMs: T0 + minute * 60_000 }),
      ]);
    }
    assert.equal(ledger.prune(T0 + 20 * 60_000, T0).events, 20);
    assert.equal(ledger.prune(T0 + 20 * 60_000, T0).events, 0, 'nothing left before the cutoff');
    assert.equal(ledger.prune(T0 + 1000 * 60_000, T0).events, 30);
    assert.deepEqual(ledger.countEvents(), { total: 50, counted: 50 });
  });
});
