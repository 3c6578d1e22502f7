import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqlite } from './database.js';
import type { SqliteLedger } from './ledger.js';
import { LedgerOutbox } from './ledger-outbox.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { HOUR_MS } from '../../lib/time.js';
import { ledgerPerTest, queued } from '../../../test/support/sqlite-ledgers.js';

const event = exchangeEvent;
let ledger: SqliteLedger;
const ledgers = ledgerPerTest('tally-ledger-outbox-', (opened) => {
  ledger = opened;
});
const { dir } = ledgers;

describe('the SQLite ledger’s burl outbox', () => {
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
    assert.equal(ledger.replayDead(ledger.deadDeliveries(), T0 + 200, T0 + 5000), 1);
    assert.equal(ledger.leaseDeliveries(T0 + 200, 10, 5000).length, 1);
  });

  it('ends the leases a killed process left, so that their deliveries are leased again at once, as due as they were', () => {
    ledger.record([
      event({ dedupe: { key: 'k1', expiresMs: T0 + 1 }, delivery: { url: 'u1', deadlineMs: T0 + HOUR_MS } }),
      event({ dedupe: { key: 'k2', expiresMs: T0 + 1 }, delivery: { url: 'u2', deadlineMs: T0 + HOUR_MS } }),
    ]);
    const [inFlight, settled] = ledger.leaseDeliveries(T0, 10, 240_000);
    ledger.markDelivered(settled?.id ?? 0, T0 + 5);
    assert.equal(ledger.endLeasesOfKilledProcess(), 1);
    const again = ledger.leaseDeliveries(T0 + 10, 10, 240_000);
    assert.deepEqual(
      again.map((delivery) => ({ id: delivery.id, attempts: delivery.attempts, dueMs: delivery.dueMs })),
      [{ id: inFlight?.id, attempts: 2, dueMs: inFlight?.dueMs }],
    );
    assert.equal(ledger.listDeliveries(1, 'delivered', 10).length, 1, 'a delivered one stays delivered');
  });

  it('leases the deliveries due first, but no host more than its calls in flight leave room for, and none in flight', () => {
    ledger.record([
      queued('a1', 'https://A.example/bill?n=1', T0),
      queued('a2', 'https://a.example/bill?n=2', T0 + 1),
      queued('a3', 'http://a.example/bill?n=3', T0 + 2),
      queued('b1', 'https://b.example/bill', T0 + 3),
      queued('c1', 'https://c.example/bill', T0 + 4),
    ]);
    const inFlightToA = {
      ids: new Set<number>(),
      byHost: new Map([['https://a.example', 1]]),
      hostLimit: () => 2,
    };
    const leased = ledger.leaseDeliveries(T0 + 10, 10, 1000, inFlightToA);
    assert.deepEqual(
      leased.map((delivery) => delivery.url),
      [
        'https://A.example/bill?n=1',
        'http://a.example/bill?n=3',
        'https://b.example/bill',
        'https://c.example/bill',
      ],
      'one of https://a.example (its port 443 too), whose second is due next; http://a.example is another host',
    );
    const [second] = ledger
      .listDeliveries(1, 'pending', 10)
      .filter((delivery) => delivery.url.endsWith('n=2'));
    const firstTwo = ledger.leaseDeliveries(T0 + 2000, 2, 1000, {
      ids: new Set([leased[0]?.id ?? 0]),
      byHost: new Map(),
      hostLimit: () => 10,
    });
    assert.deepEqual(
      firstTwo.map((delivery) => delivery.id),
      [second?.id, leased[1]?.id],
      'the one in flight is passed over though its lease ran out; the rest, due first first, up to the limit',
    );
  });

  it('passes over a host at its limit however many of its deliveries fall due first, and leases each with its host', () => {
    ledger.record([
      ...[1, 2, 3, 4, 5].map((n) => queued(`hung-${n}`, `https://Hung.example/bill?n=${n}`, T0 + n)),
      queued('fine', 'https://fine.example/bill', T0 + 10),
    ]);
    const hungFull = {
      ids: new Set<number>(),
      byHost: new Map([['https://hung.example', 1]]),
      hostLimit: (host: string) => (host === 'https://hung.example' ? 1 : 8),
    };
    const leased = ledger.leaseDeliveries(T0 + 20, 2, 1000, hungFull);
    assert.deepEqual(
      leased.map((delivery) => [delivery.url, delivery.host]),
      [['https://fine.example/bill', 'https://fine.example']],
    );
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 20, 1, 1000).map((delivery) => [delivery.url, delivery.host]),
      [['https://Hung.example/bill?n=1', 'https://hung.example']],
      'with room, the host’s first',
    );
  });

  it('writes the outcomes of many calls in one transaction: delivered, due again, or dead', () => {
    ledger.record(
      ['ok', 'again', 'gone'].map((key) =>
        event({
          dedupe: { key, expiresMs: T0 + 1 },
          delivery: { url: `https://dsp.example/${key}`, deadlineMs: T0 + 1000 },
        }),
      ),
    );
    const [ok, again, gone] = ledger.leaseDeliveries(T0, 10, 5000);
    ledger.settleDeliveries([
      { id: ok?.id ?? 0, deliveredMs: T0 + 1 },
      { id: again?.id ?? 0, error: 'HTTP 503', nextDueMs: T0 + 100, firstFailedMs: T0 },
      { id: gone?.id ?? 0, error: 'HTTP 410', nextDueMs: null, firstFailedMs: T0 },
    ]);
    const byUrl = new Map(
      ledger.listDeliveries(1, undefined, 10).map((delivery) => [delivery.url, delivery]),
    );
    assert.deepEqual(
      ['ok', 'again', 'gone'].map((key) => {
        const delivery = byUrl.get(`https://dsp.example/${key}`);
        return [delivery?.status, delivery?.dueMs, delivery?.lastError, delivery?.deliveredMs];
      }),
      [
        ['delivered', T0, '', T0 + 1],
        ['pending', T0 + 100, 'HTTP 503', null],
        ['dead', T0, 'HTTP 410', null],
      ],
    );
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 100, 10, 5000).map((delivery) => [delivery.url, delivery.firstFailedMs]),
      [['https://dsp.example/again', T0]],
      'the one due again is leased again once due, its lease released, with when it first failed',
    );
    // A later failure keeps when the first began; a replay of a dead one begins anew.
    ledger.markFailed(again?.id ?? 0, 'HTTP 502', T0 + 200, T0 + 100);
    ledger.replayDead(ledger.deadDeliveries(), T0 + 200, T0 + 5000);
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 200, 10, 5000).map((delivery) => [delivery.url, delivery.firstFailedMs]),
      [
        ['https://dsp.example/again', T0],
        ['https://dsp.example/gone', null],
      ],
    );
  });

  it('finds the oldest due delivery not being called, by its due time, and none before it falls due or while leased', () => {
    ledger.record([
      event({ dedupe: { key: 'first', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + 1000 } }),
    ]);
    ledger.record([
      event({
        receivedMs: T0 + 10,
        dedupe: { key: 'second', expiresMs: T0 + 11 },
        delivery: { url: 'u', deadlineMs: T0 + 1000 },
      }),
    ]);
    assert.equal(ledger.oldestDueMs(T0 - 1), undefined, 'none due yet');
    assert.equal(ledger.oldestDueMs(T0 + 5), T0);
    const [leased] = ledger.leaseDeliveries(T0 + 5, 1, 100);
    assert.equal(ledger.oldestDueMs(T0 + 50), T0 + 10, 'the first is being called');
    assert.equal(ledger.oldestDueMs(T0 + 105), T0, 'its lease ran out');
    ledger.markDelivered(leased?.id ?? 0, T0 + 60);
    assert.equal(ledger.oldestDueMs(T0 + 105), T0 + 10);
  });

  it('leases host by host through the index on the pending deliveries’ hosts, one seek a host, never a scan', () => {
    const path = join(dir, 'lease-plan.db');
    const written = openSqlite(path);
    const leasing = new LedgerOutbox(written);
    const db = new Database(path, { readonly: true });
    const parameters = { pendingHosts: [], dueOfHost: ['h', 0, 0, 1] };
    for (const statement of ['pendingHosts', 'dueOfHost'] as const) {
      const steps = (
        db.prepare(`EXPLAIN QUERY PLAN ${leasing.sqlOf(statement)}`).all(...parameters[statement]) as {
          detail: string;
        }[]
      ).map((step) => step.detail);
      const deliveriesSteps = steps.filter((step) => / deliveries /.test(`${step} `));
      assert.ok(deliveriesSteps.length > 0, steps.join('; '));
      for (const step of deliveriesSteps)
        assert.match(step, /^SEARCH deliveries USING (COVERING )?INDEX deliveries_host_due/, statement);
    }
    db.close();
    written.close();
  });

  it('makes a leased delivery due again when its lease runs out (the process died mid-delivery)', () => {
    ledger.record([
      event({ dedupe: { key: 'x', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + 99_000 } }),
    ]);
    assert.equal(ledger.leaseDeliveries(T0, 10, 5000).length, 1);
    assert.equal(ledger.leaseDeliveries(T0 + 5000, 10, 5000).length, 1);
  });

  it('leases the deliveries that fell due first before later ones, whatever order they were queued in', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record([
      event({ receivedMs: T0 + 50, dedupe: { key: 'queued-first', expiresMs: T0 + 1 }, delivery }),
    ]);
    ledger.record([event({ receivedMs: T0, dedupe: { key: 'due-first', expiresMs: T0 + 1 }, delivery })]);
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 100, 1, 5000).map((leased) => leased.dedupeKey),
      ['due-first'],
    );
  });

  it('leases no more deliveries than its limit, however many calls are in flight', () => {
    ledger.record([1, 2, 3, 4].map((n) => queued(`d${n}`, `https://dsp${n}.example/bill`, T0 + n)));
    // Calls in flight hold leases, so none of them is among the deliveries due.
    const twoInFlight = { ids: new Set([998, 999]), byHost: new Map(), hostLimit: () => 10 };
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 10, 2, 1000, twoInFlight).map((delivery) => delivery.dedupeKey),
      ['d1', 'd2'],
    );
  });

  it('leases host by host past a call in flight whose lease ran out, as many as its host has room for, and not that one', () => {
    ledger.record([
      ...[1, 2, 3].map((n) => queued(`hung-${n}`, `https://hung.example/bill?n=${n}`, T0 + n)),
      ...[1, 2, 3].map((n) => queued(`other-${n}`, `https://other.example/bill?n=${n}`, T0 + 3 + n)),
    ]);
    const hungFull = (otherCalls: number) => ({
      byHost: new Map([
        ['https://hung.example', 1],
        ['https://other.example', otherCalls],
      ]),
      hostLimit: (host: string) => (host === 'https://hung.example' ? 1 : 3),
    });
    const [first] = ledger.leaseDeliveries(T0 + 4, 1, 1, { ids: new Set(), ...hungFull(0) });
    assert.equal(first?.dedupeKey, 'other-1');
    // Its call is still in flight when its lease runs out (the clock stepped past it).
    const leased = ledger.leaseDeliveries(T0 + 20, 2, 1000, {
      ids: new Set([first?.id ?? 0]),
      ...hungFull(1),
    });
    assert.deepEqual(
      leased.map((delivery) => delivery.dedupeKey),
      ['other-2', 'other-3'],
    );
  });
});
