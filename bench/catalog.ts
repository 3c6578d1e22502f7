// How long one ad-ops write holds the HTTP thread (which also answers notices and tracker hits):
// the write's transaction plus bringing the in-memory catalog snapshot up to date, for a
// tracker edit, a line item edit and a payment rule edit, on a catalog of many trackers. Beside
// it, the baseline measured in the same run: rebuilding the snapshot from the whole catalog,
// which is what every write cost before changes were applied in place (and what a write from
// another process still costs, at the next poll).
//
//   npm run bench:catalog      (BENCH_TRACKERS=20000 by default)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteAccountStore } from '../src/adapters/sqlite/accounts.js';
import { SqliteCatalogStore } from '../src/adapters/sqlite/catalog.js';
import { openSqlite } from '../src/adapters/sqlite/database.js';
import { CatalogSnapshot } from '../src/catalog-snapshot.js';
import { tablesOf, viewOf } from '../src/catalog-tables.js';
import type { PaymentRuleInput, TrackerInput, WriteResult } from '../src/ports/catalog.js';
import { paymentRuleInput } from '../test/support/payment-rules.js';

const TRACKERS = Number(process.env.BENCH_TRACKERS ?? '20000');
/** Trackers on the second line item, the one whose edits the bench times. */
const TRACKERS_OF_EDITED_LINE_ITEM = 100;
const REPEATS = 30;
const NOW_MS = Date.now();

function stored<T>(result: WriteResult<T>): T {
  if (!result.ok) throw new Error(`the bench's catalog write was refused: ${JSON.stringify(result)}`);
  return result.value;
}

/** The median of `REPEATS` timings of `body`, in ms. */
function medianMs(body: (repeat: number) => void): number {
  const timings: number[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const started = performance.now();
    body(repeat);
    timings.push(performance.now() - started);
  }
  timings.sort((a, b) => a - b);
  return timings[Math.floor(REPEATS / 2)] ?? Number.NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'tally-bench-catalog-'));
try {
  const db = openSqlite(join(dir, 'tally.db'), 'NORMAL');
  const accountId = new SqliteAccountStore(db).createAccount('bench', NOW_MS).id;
  const store = new SqliteCatalogStore(db);
  const advertiser = stored(store.advertisers.create(accountId, { name: 'advertiser' }, NOW_MS));
  const lineItem = (revenueValueMicros: number) => ({
    advertiserId: advertiser.id,
    name: 'line item',
    revenueType: 'cpm' as const,
    revenueValueMicros,
    state: 'active' as const,
  });
  const [bulk, edited] = [
    stored(store.lineItems.create(accountId, lineItem(1_000_000), NOW_MS)),
    stored(store.lineItems.create(accountId, lineItem(1_000_000), NOW_MS)),
  ];
  const publisher = stored(
    store.publishers.create(accountId, { name: 'publisher', externalId: null }, NOW_MS),
  );
  const rule = (priority: number): PaymentRuleInput => paymentRuleInput(publisher.id, { priority });
  const base = stored(store.paymentRules.create(accountId, rule(5), NOW_MS));
  const tracker = (index: number): TrackerInput => ({
    kind: 'impression',
    advertiserId: advertiser.id,
    name: `tracker ${index}`,
    code: `code-${index}`,
    lineItemId: index < TRACKERS_OF_EDITED_LINE_ITEM ? edited.id : bulk.id,
    publisherId: publisher.id,
    placementId: null,
    // Every tenth tracker names the base rule as its own: a rule edit rebuilds their views.
    paymentRuleId: index % 10 === 0 ? base.id : null,
    state: 'active',
    clickUrl: null,
    firedBy: 'browser',
  });
  const trackerIds = db.transaction(() =>
    Array.from(
      { length: TRACKERS },
      (_, index) => stored(store.trackers.create(accountId, tracker(index), NOW_MS)).id,
    ),
  )();

  const rebuildMs = medianMs(() => viewOf(tablesOf(store.load())));
  const snapshot = new CatalogSnapshot(store, { pollIntervalMs: 3_600_000 });
  snapshot.start();
  const editTrackerMs = medianMs((repeat) => {
    const id = trackerIds[repeat] ?? 0;
    stored(store.trackers.update(accountId, id, { ...tracker(repeat), name: `renamed ${repeat}` }, NOW_MS));
    snapshot.current();
  });
  const editLineItemMs = medianMs((repeat) => {
    stored(store.lineItems.update(accountId, edited.id, lineItem(2_000_000 + repeat), NOW_MS));
    snapshot.current();
  });
  const editRuleMs = medianMs((repeat) => {
    stored(store.paymentRules.update(accountId, base.id, rule(1 + (repeat % 10)), NOW_MS));
    snapshot.current();
  });
  snapshot.stop();
  db.close();

  const row = (label: string, ms: number) =>
    `${label.padEnd(64)} ${ms.toFixed(2).padStart(8)} ms  ${(rebuildMs / ms).toFixed(0).padStart(5)}× faster\n`;
  process.stdout.write(
    `${TRACKERS} trackers; median of ${REPEATS}; each write: its transaction and the snapshot brought up to date\n\n` +
      row('edit a tracker', editTrackerMs) +
      row(`edit the line item of ${TRACKERS_OF_EDITED_LINE_ITEM} trackers`, editLineItemMs) +
      row(`edit the base rule of the publisher (${TRACKERS / 10} trackers name it)`, editRuleMs) +
      `\nbaseline, same run: rebuild the snapshot from the whole catalog   ${rebuildMs.toFixed(2).padStart(8)} ms\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
