import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach } from 'node:test';
import type Database from 'better-sqlite3';
import { openSqlite } from '../../src/adapters/sqlite/database.js';
import { SqliteLedger } from '../../src/adapters/sqlite/ledger.js';
import { HOUR_MS } from '../../src/lib/time.js';
import { exchangeEvent, T0 } from './events.js';

/** The SQLite ledger files of one test file, in a directory of their own. */
export interface TestLedgers {
  /** The directory of the test file's ledgers, removed once its tests ran. */
  readonly dir: string;
  /** The file of the ledger opened for the running test. */
  readonly path: string;
  /** The connection the running test's ledger was opened on, which the test may read too. */
  readonly db: Database.Database;
  /** A path in `dir` that no other call, nor a test's ledger, was given: `<name>-<n>.db`. */
  newPath(name: string): string;
}

/**
 * Opens a new ledger on a new file before each test of the calling test file, and hands it to
 * `opened`; the files' directory, named after `prefix`, is removed after the file's tests.
 */
export function ledgerPerTest(prefix: string, opened: (ledger: SqliteLedger) => void): TestLedgers {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let sequence = 0;
  const newPath = (name: string) => join(dir, `${name}-${++sequence}.db`);
  let current: { path: string; db: Database.Database } | undefined;
  beforeEach(() => {
    const path = newPath('ledger');
    current = { path, db: openSqlite(path) };
    opened(new SqliteLedger(current.db));
  });
  const running = () => {
    if (current === undefined) throw new Error('no test is running: a ledger is opened before each');
    return current;
  };
  return {
    dir,
    get path() {
      return running().path;
    },
    get db() {
      return running().db;
    },
    newPath,
  };
}

/** The start of `T0`'s hour. */
export const T0_HOUR = T0 - (T0 % HOUR_MS);

/** One account's report of the hour before `T0`'s and `T0`'s (reports take hour starts). */
export const HOUR_AROUND_T0 = {
  accountId: 1,
  fromMs: T0_HOUR - HOUR_MS,
  toMs: T0_HOUR + HOUR_MS,
  filters: {},
};

/** [outcome, currency, events, priceMicros] of each row of a report by outcome and currency. */
export function byOutcomeAndCurrency(ledger: SqliteLedger): unknown[][] {
  const rows = ledger.report({ ...HOUR_AROUND_T0, groupBy: ['outcome', 'currency'] });
  return rows.map((row) => [row.outcome, row.currency, row.events, row.priceMicros]);
}

/** A counted event received at `receivedMs` whose burl `url` is queued, due then. */
export function queued(key: string, url: string, receivedMs: number) {
  return exchangeEvent({
    receivedMs,
    dedupe: { key, expiresMs: receivedMs + 1 },
    delivery: { url, deadlineMs: T0 + 1000 },
  });
}
