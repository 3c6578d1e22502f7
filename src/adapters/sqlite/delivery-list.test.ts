import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { impressionKey } from '../../domain/impression-key.js';
import type { DeliveryFilter, DeliveryStatus } from '../../ports/ledger.js';
import { DELIVERY_STATUSES } from '../../ports/ledger.js';
import { bannerClaims } from '../../../test/support/claims.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { openSqlite } from './database.js';
import { deliveryListQuery } from './delivery-list.js';
import { SqliteLedger } from './ledger.js';

const MINUTE_MS = 60_000;
const SEATS = ['seat-a', 'seat-b', 'seat-c'] as const;

/** A delivery the ledger is to keep: its seat, the status it ends in, the account it bills. */
interface Queued {
  seat: (typeof SEATS)[number];
  status: DeliveryStatus;
  accountId: 1 | 2;
}

/** Records `queued` in order, a minute apart, each as a notice of a registered win makes it. */
function ledgerOf(queued: readonly Queued[]): SqliteLedger {
  const ledger = new SqliteLedger(openSqlite(':memory:'));
  queued.forEach(({ seat, status, accountId }, index) => {
    const auctionId = `auction-${index}`;
    const base = exchangeEvent();
    ledger.record([
      exchangeEvent({
        receivedMs: T0 + index * MINUTE_MS,
        dims: { ...base.dims, accountId, auctionId, seat },
        dedupe: { key: impressionKey(bannerClaims({ accountId, auctionId, seat })), expiresMs: T0 + 1 },
        delivery: {
          url: `https://dsp.example/${index}`,
          deadlineMs: T0 + 3_600_000,
          ...(status === 'redirected' ? { redirected: true as const } : {}),
        },
      }),
    ]);
    const [delivery] = ledger.listDeliveries(accountId, undefined, 1);
    if (status === 'delivered') ledger.markDelivered(delivery?.id ?? 0, T0);
    if (status === 'dead') ledger.markFailed(delivery?.id ?? 0, 'HTTP 500', null);
  });
  return ledger;
}

describe('listing a seat’s deliveries', () => {
  it('lists exactly the seat’s deliveries of the account, newest first, of one status or any, in a window or not, page after page with none missed or repeated', () => {
    const queuedArb = fc.record({
      seat: fc.constantFrom(...SEATS),
      status: fc.constantFrom(...DELIVERY_STATUSES),
      // Mostly the account listed, so that most runs list some.
      accountId: fc.constantFrom(1 as const, 1 as const, 1 as const, 2 as const),
    });
    const queryArb = fc.record({
      seat: fc.constantFrom(...SEATS),
      status: fc.option(fc.constantFrom(...DELIVERY_STATUSES), { nil: undefined, freq: 2 }),
      // Windows within the deliveries queued (a minute apart), so that most pick some.
      fromMinute: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
      minutes: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
      limit: fc.integer({ min: 1, max: 3 }),
    });
    /** How many runs listed the seat's deliveries over more than one page. */
    let paged = 0;
    fc.assert(
      fc.property(fc.array(queuedArb, { minLength: 10, maxLength: 30 }), queryArb, (queued, query) => {
        const ledger = ledgerOf(queued);
        try {
          const window: DeliveryFilter = {
            seat: query.seat,
            ...(query.fromMinute === undefined ? {} : { createdFromMs: T0 + query.fromMinute * MINUTE_MS }),
            ...(query.minutes === undefined
              ? {}
              : { createdToMs: T0 + ((query.fromMinute ?? 0) + query.minutes) * MINUTE_MS }),
          };
          const expected = queued
            .map((delivery, index) => ({ ...delivery, url: `https://dsp.example/${index}`, index }))
            .filter(
              (delivery) =>
                delivery.accountId === 1 &&
                delivery.seat === query.seat &&
                (query.status === undefined || delivery.status === query.status) &&
                (window.createdFromMs === undefined ||
                  T0 + delivery.index * MINUTE_MS >= window.createdFromMs) &&
                (window.createdToMs === undefined || T0 + delivery.index * MINUTE_MS < window.createdToMs),
            )
            .reverse()
            .map((delivery) => `${delivery.url} ${delivery.status}`);
          // Pages as the API reads them: one row more than the page tells whether another follows.
          const listed: string[] = [];
          let afterId: number | undefined;
          // Bounded: a page that does not move past the last would otherwise be read forever.
          for (let pages = 1; pages <= queued.length + 1; pages++) {
            const rows = ledger.listDeliveries(1, query.status, query.limit + 1, { ...window, afterId });
            assert.ok(rows.length <= query.limit + 1, `${rows.length} rows asked for ${query.limit + 1}`);
            const page = rows.slice(0, query.limit);
            listed.push(...page.map((delivery) => `${delivery.url} ${delivery.status}`));
            if (rows.length <= query.limit) {
              if (pages > 1) paged++;
              break;
            }
            afterId = page.at(-1)?.id;
          }
          assert.deepEqual(listed, expected);
        } finally {
          ledger.close();
        }
      }),
      { numRuns: 100 },
    );
    assert.ok(paged >= 5, `only ${paged} of 100 runs read more than one page`);
  });

  it('reads a seat’s deliveries through the index of the account’s seats alone, at most a page of each status, never a scan', () => {
    const db = openSqlite(':memory:');
    const ledger = new SqliteLedger(db);
    const window = { lowId: 1, endId: 9 };
    for (const [status, filter, ids] of [
      ['dead', { seat: 's' }, undefined],
      [undefined, { seat: 's' }, undefined],
      [undefined, { seat: 's', afterId: 5, createdFromMs: 0, createdToMs: 10 }, window],
      ['pending', { seat: 's', createdFromMs: 0 }, window],
    ] as const) {
      const { sql, parameters } = deliveryListQuery(1, status, 10, filter, ids);
      const steps = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[])
        .map((step) => step.detail)
        .filter((detail) => / deliveries /.test(`${detail} `));
      assert.equal(steps.length, status === undefined ? DELIVERY_STATUSES.length : 1, steps.join('; '));
      for (const step of steps)
        assert.match(
          step,
          new RegExp(
            `^SEARCH deliveries USING INDEX deliveries_account_seat \\(account_id=\\? AND seat=\\? AND status=\\? AND id${ids === undefined ? '<\\?' : '>\\? AND id<\\?'}\\)$`,
          ),
          JSON.stringify([status, filter]),
        );
    }
    ledger.close();
  });

  it('reads a status’s deliveries in a window of time through the index of the account’s statuses, not every delivery of the window', () => {
    const db = openSqlite(':memory:');
    const ledger = new SqliteLedger(db);
    for (const [filter, ids] of [
      [{}, undefined],
      [
        { createdFromMs: 0, createdToMs: 10 },
        { lowId: 1, endId: 9 },
      ],
    ] as const) {
      const { sql, parameters } = deliveryListQuery(1, 'dead', 10, filter, ids);
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[])
        .map((step) => step.detail)
        .join('; ');
      assert.match(
        plan,
        /^SEARCH deliveries USING INDEX deliveries_account_status \(account_id=\? AND status=\? AND id/,
        plan,
      );
    }
    ledger.close();
  });
});
