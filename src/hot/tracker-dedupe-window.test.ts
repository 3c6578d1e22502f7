// The five-minute cachebuster window of tracker hits, as the hot path applies it, over HTTP on
// loopback into a real SQLite ledger, with a clock the test sets.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { defaultIvtFilter } from '../domain/ivt.js';
import { Metrics } from '../lib/metrics.js';
import type { CatalogView, TrackerView } from '../ports/catalog.js';
import { GroupCommitter } from './group-commit.js';
import { handleTrackerHit } from './trackers.js';
import { T0 } from '../../test/support/events.js';
import { inlineRecorder } from '../../test/support/inline-recorder.js';
import { CHROME } from '../../test/support/user-agents.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-tracker-window-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TRACKER: TrackerView = {
  id: 5,
  kind: 'impression',
  accountId: 1,
  code: null,
  state: 'active',
  advertiserId: 2,
  lineItem: { id: 3, advertiserId: 2, revenueType: 'none', revenueValueMicros: 0, state: 'active' },
  publisherId: 4,
  placementId: null,
  paymentRule: null,
  clickUrl: null,
};
const CATALOG: CatalogView = {
  version: 1,
  findTracker: (kind, by) => (kind === 'impression' && 'id' in by && by.id === 5 ? TRACKER : undefined),
  redirectAllowlist: () => ({ enabled: false, domains: [] }),
  paymentRules: () => [],
};

describe('the tracker cachebuster window on the hot path', () => {
  it('takes a repeat 4 min 59 s after the first hit as a duplicate, and counts one 5 min 1 s after it', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'window.db')));
    let clockMs = T0;
    const server = createServer((req, res) => {
      void handleTrackerHit('impression', req, res, {
        catalog: () => CATALOG,
        ivtFilter: () => defaultIvtFilter(),
        committer: new GroupCommitter(
          inlineRecorder(ledger),
          { maxBatch: 100, maxDelayMs: 0, maxQueue: 100, maxInFlight: 1, flushAtSize: 1000 },
          new Metrics(),
        ),
        metrics: new Metrics(),
        nowMs: () => clockMs,
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const hitAt = async (ms: number) => {
      clockMs = ms;
      const answer = await fetch(`${base}/imptr?id=5&cachebuster=cb-1`, {
        headers: { 'user-agent': CHROME },
      });
      await answer.arrayBuffer();
    };
    try {
      await hitAt(T0);
      await hitAt(T0 + 299_000);
      await hitAt(T0 + 301_000);
      const db = openSqlite(join(dir, 'window.db'));
      const rows = db.prepare('SELECT outcome, reason FROM events ORDER BY id').all() as {
        outcome: string;
        reason: string;
      }[];
      db.close();
      assert.deepEqual(
        rows.map((row) => `${row.outcome}/${row.reason}`),
        ['counted/', 'not_counted/duplicate', 'counted/'],
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ledger.close();
    }
  });
});
