import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { invalidTraffic } from '../domain/outcome.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import { PRUNE_ROWS_PER_STEP } from './prune-step.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-prune-step-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a pruning step of the counting thread', () => {
  it('deletes at most 1000 deliveries and 1000 raw events, a transaction of a few ms, and a pass still prunes them all', () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'steps.db')));
    const delivery = { url: 'https://dsp.example/burl', deadlineMs: T0 + 3_600_000 };
    const bot = invalidTraffic('bot_user_agent');
    for (let batch = 0; batch < 5; batch++) {
      ledger.record(
        Array.from({ length: 500 }, (_, index) => [
          exchangeEvent({
            dims: { ...exchangeEvent().dims, auctionId: `a${batch}-${index}` },
            dedupe: { key: `k${batch}-${index}`, expiresMs: T0 + 1 },
            delivery,
          }),
          exchangeEvent({ outcome: bot }),
        ]).flat(),
      );
    }
    // The newest event and delivery, which pruning keeps.
    ledger.record([
      exchangeEvent({ receivedMs: T0 + 60_000, dedupe: { key: 'newest', expiresMs: T0 + 1 }, delivery }),
    ]);
    for (const leased of ledger.leaseDeliveries(T0, 3000, 5000)) ledger.markDelivered(leased.id, T0);
    const steps: { events: number; deliveries: number }[] = [];
    for (;;) {
      const { done, ...deleted } = ledger.prune(T0 + 1, PRUNE_ROWS_PER_STEP, T0 + 3_600_000);
      steps.push(deleted);
      if (done) break;
    }
    ledger.close();
    assert.deepEqual(
      steps.filter((step) => step.events > 1000 || step.deliveries > 1000),
      [],
      'no step deletes more than 1000 of either',
    );
    assert.deepEqual(
      steps.reduce((sum, step) => ({
        events: sum.events + step.events,
        deliveries: sum.deliveries + step.deliveries,
      })),
      { events: 2500, deliveries: 2500 },
    );
  });
});
