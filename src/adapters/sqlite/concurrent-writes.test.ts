import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { COUNTED, notCounted } from '../../domain/outcome.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { SqliteAccountStore } from './accounts.js';
import { SqliteCatalogStore } from './catalog.js';
import { openSqlite } from './database.js';
import { SqliteLedger } from './ledger.js';

/**
 * Another connection to the same file committing small transactions back to back, on a thread of
 * its own, as the counting thread does under load while the API edits the catalog (and the API
 * does while the counting thread records). It runs until `stop` is set, counting its commits in
 * `commits`. It takes the lock as soon as it is free (busy timeout 0, tried again at once): with
 * SQLite's busy handler, which sleeps between its tries, the tests' transactions back to back
 * kept the lock from it for whole tests on a loaded machine, and those tests waited for no lock.
 * It pauses a millisecond after each commit.
 */
const BUSY_WRITER = `
const { workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
const insert = db.prepare('INSERT INTO busy_writer (payload) VALUES (?)');
const commit = db.transaction(() => { for (let i = 0; i < 20; i++) insert.run('x'.repeat(200)); });
const stop = new Int32Array(workerData.stop);
const commits = new Int32Array(workerData.commits);
while (Atomics.load(stop, 0) === 0) {
  try {
    commit();
    Atomics.add(commits, 0, 1);
    // A millisecond's pause after each commit, so that the tests' connections, whose busy handler
    // sleeps between its tries, are not kept from the lock either.
    Atomics.wait(stop, 0, 0, 1);
  } catch (error) {
    if (error.code !== 'SQLITE_BUSY') throw error;
  }
}
db.close();
`;

/**
 * Transactions of each kind per test. A deferred transaction fails only when the other thread
 * commits between its read and its write, a window of microseconds: with transactions begun
 * deferred, six runs of this many rounds each failed two or three of the three tests (with 300
 * rounds, some runs failed only one).
 */
const ROUNDS = 1500;

const dir = mkdtempSync(join(tmpdir(), 'tally-concurrent-'));
const path = join(dir, 'tally.db');
const stop = new Int32Array(new SharedArrayBuffer(4));
/** How many transactions the busy writer has committed. */
const commits = new Int32Array(new SharedArrayBuffer(4));
let writer: Worker;

before(async () => {
  // The writer's table is made here, before the tests take the lock: made by the writer as it
  // started, its statement could wait out its busy timeout behind them on a loaded machine and
  // fail outside any test.
  const db = openSqlite(path);
  db.exec('CREATE TABLE busy_writer (payload TEXT)');
  db.close();
  writer = new Worker(BUSY_WRITER, {
    eval: true,
    workerData: { path, stop: stop.buffer, commits: commits.buffer },
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
});

after(async () => {
  Atomics.store(stop, 0, 1);
  await new Promise((resolve) => writer.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** The fewest commits of the busy writer that each test's transactions run beside. */
const MIN_WRITER_COMMITS = 50;

/**
 * Runs `round` (one round of a test's transactions) `ROUNDS` times, and on until the busy writer
 * has committed `MIN_WRITER_COMMITS` times meanwhile: transactions no other commit came between
 * could not fail to wait for the lock. Fails when it has not after twenty times the rounds.
 */
function besideTheWriter(round: (index: number) => void): void {
  const before = Atomics.load(commits, 0);
  const committed = () => Atomics.load(commits, 0) - before;
  for (let index = 0; index < ROUNDS || committed() < MIN_WRITER_COMMITS; index++) {
    if (index === 20 * ROUNDS)
      assert.fail(`the other connection committed ${committed()} times in ${index} rounds`);
    round(index);
  }
}

// A transaction that reads before it writes must take the write lock when it begins: begun
// deferred, its read pins a snapshot, and SQLite refuses the later write at once (SQLITE_BUSY,
// without waiting) whenever another connection committed in between.
describe('transactions that read before they write, beside another connection committing', () => {
  it('a catalog edit that checks what it names waits for the lock instead of failing', () => {
    const db = openSqlite(path);
    const accountId = new SqliteAccountStore(db).createAccount('A', T0).id;
    const catalog = new SqliteCatalogStore(db);
    const advertiser = catalog.advertisers.create(accountId, { name: 'Adv' }, T0);
    assert.ok(advertiser.ok, `the advertiser is created; got ${JSON.stringify(advertiser)}`);
    besideTheWriter((round) => {
      const input = {
        advertiserId: advertiser.value.id,
        name: `LI ${round}`,
        state: 'active' as const,
        revenueType: 'cpm' as const,
        revenueValueMicros: 1,
      };
      const lineItem = catalog.lineItems.create(accountId, input, T0);
      assert.ok(lineItem.ok, `round ${round}: the line item is created; got ${JSON.stringify(lineItem)}`);
    });
    db.close();
  });

  it('recording a batch that begins with a duplicate waits for the lock instead of failing', () => {
    const ledger = new SqliteLedger(openSqlite(path));
    besideTheWriter((round) => {
      const claim = { key: `impression-${round}`, expiresMs: T0 + 600_000 };
      assert.deepEqual(ledger.record([exchangeEvent({ dedupe: claim })]), [COUNTED]);
      assert.deepEqual(
        ledger.record([exchangeEvent({ receivedMs: T0 + 1, dedupe: claim }), exchangeEvent()]),
        [notCounted('duplicate'), COUNTED],
      );
    });
    ledger.close();
  });

  it('leasing burl deliveries and pruning wait for the lock instead of failing', () => {
    const ledger = new SqliteLedger(openSqlite(path));
    besideTheWriter(() => {
      ledger.leaseDeliveries(T0, 10, 5000);
      ledger.prune(T0, 10);
    });
    ledger.close();
  });
});
