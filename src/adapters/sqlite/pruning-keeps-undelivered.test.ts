import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from './database.js';
import { SqliteLedger } from './ledger.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { DAY_MS, HOUR_MS } from '../../lib/time.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-pruning-undelivered-'));

after(() => rmSync(dir, { recursive: true, force: true }));

/** A counted impression received at `T0` whose DSP burl `url` is queued, its claim ended at once. */
function counted(key: string, url: string) {
  return exchangeEvent({
    dedupe: { key, expiresMs: T0 + 1 },
    delivery: { url, deadlineMs: T0 + 3 * HOUR_MS },
  });
}

describe('retention pruning of burl deliveries', () => {
  it('keeps every burl the DSP was never told of, pending, retrying or dead, however old, and prunes the delivered one', () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'ledger.db')));
    try {
      ledger.record([
        counted('delivered', 'https://dsp.example/delivered'),
        counted('dead', 'https://dsp.example/dead'),
        counted('retrying', 'https://dsp.example/retrying'),
        counted('pending', 'https://dsp.example/pending'),
      ]);
      // The newest delivery is never pruned: one more, so that the four above are all prunable by age.
      ledger.record([counted('newest', 'https://dsp.example/newest')]);
      const leased = new Map(
        ledger.leaseDeliveries(T0, 10, 60_000).map((delivery) => [delivery.dedupeKey, delivery.id]),
      );
      ledger.markDelivered(leased.get('delivered') ?? 0, T0);
      ledger.markFailed(leased.get('dead') ?? 0, 'HTTP 500', null, T0);
      ledger.markFailed(leased.get('retrying') ?? 0, 'HTTP 503', T0 + 60_000, T0);
      // Left leased: a call in flight when the pass runs is still a burl owed.
      assert.equal(leased.has('pending'), true, 'the pending delivery was leased');
      const before = ledger.countDeliveries();
      assert.deepEqual(before, { pending: 3, delivered: 1, dead: 1, redirected: 0 });

      const laterMs = T0 + 400 * DAY_MS;
      let deliveries = 0;
      for (let step = ledger.prune(laterMs, 100, laterMs); ; step = ledger.prune(laterMs, 100, laterMs)) {
        deliveries += step.deliveries;
        if (step.done) break;
      }

      assert.equal(deliveries, 1, 'the delivered burl, and it alone, is pruned');
      assert.deepEqual(ledger.countDeliveries(), { pending: 3, delivered: 0, dead: 1, redirected: 0 });
      assert.deepEqual(
        ledger.deadDeliveries().map((delivery) => delivery.id),
        [leased.get('dead')],
        'the dead burl can still be replayed',
      );
    } finally {
      ledger.close();
    }
  });
});
