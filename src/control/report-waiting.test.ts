import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { HOUR_MS, hourStartMs } from '../lib/time.js';
import { newApiKey } from './auth.js';
import { billingRecordRoutes } from './billing-records.js';
import type { BillingRecordSource, ReportSource } from './report-thread/report-thread.js';
import { ReportThread } from './report-thread/report-thread.js';
import { reportRoutes } from './reports.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { EVERY_ID_KNOWN } from '../../test/support/report-catalog.js';
import { until } from '../../test/support/until.js';

/**
 * The reports and billing records waiting for the report thread, bounded, over real HTTP: the
 * thread is held on its read by an exclusive lock on the ledger (in rollback-journal mode, where
 * such a lock keeps readers out), so that the reads asked meanwhile wait.
 */

const dir = mkdtempSync(join(tmpdir(), 'tally-report-waiting-'));
const dbPath = join(dir, 'tally.db');
const db = openSqlite(dbPath);
const accounts = new SqliteAccountStore(db);
const ledger = new SqliteLedger(db);
const thread = new ReportThread(dbPath, 'tally-reports', { maxWaitingReads: 2 });
/** The reads the routes asked of the thread, in order. */
const asked: string[] = [];
/** The report thread, noting each read asked of it. */
const source: ReportSource & BillingRecordSource = {
  report: (request, abandoned) => {
    asked.push('report');
    return thread.report(request, abandoned);
  },
  billingRecords: (query, abandoned) => {
    asked.push('billingRecords');
    return thread.billingRecords(query, abandoned);
  },
};
let server: ApiServer;
let key = '';

before(async () => {
  const accountId = accounts.createAccount('reports', Date.now()).id;
  const made = newApiKey();
  accounts.addKey(accountId, made.hash, made.prefix, 'reader', 'reader', null, Date.now());
  key = made.key;
  ledger.record([exchangeEvent({ dims: { ...exchangeEvent().dims, accountId } })]);
  // Out of WAL mode, an exclusive lock keeps the report thread's connection from reading.
  db.pragma('journal_mode = DELETE');
  server = await serveApi(
    [
      ...reportRoutes(source, EVERY_ID_KNOWN, 100),
      ...billingRecordRoutes(source, 3 * HOUR_MS, EVERY_ID_KNOWN),
    ],
    accounts,
  );
  // The thread started and its statements prepared before the lock is taken.
  assert.equal((await get(reportPath(0))).status, 200);
});

after(async () => {
  await server.close();
  await thread.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A report over the hours from `hours` before `T0`'s to the hour after it: each `hours` another. */
function reportPath(hours: number): string {
  const fromMs = hourStartMs(T0) - hours * HOUR_MS;
  const toMs = hourStartMs(T0) + HOUR_MS;
  return `/v1/reports?from=${new Date(fromMs).toISOString()}&to=${new Date(toMs).toISOString()}`;
}

/** Waits until `look` holds, a state the server reaches on its own. */
const seen = (look: () => boolean, what: string) => until(() => Promise.resolve(look()), what);

interface Answer {
  status: number;
  retryAfter: string | null;
  requestId: string | null;
  text: string;
}

async function get(path: string, signal?: AbortSignal): Promise<Answer> {
  const response = await fetch(`${server.base}${path}`, {
    headers: { authorization: `Bearer ${key}` },
    signal,
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    requestId: response.headers.get('x-request-id'),
    text: await response.text(),
  };
}

describe('reports and billing record pages waiting for the report thread', () => {
  it('refuses a new one with 503 UNAVAILABLE and Retry-After once the most kept wait, saying how many, never one asked again while it waits, and drops one whose caller went away, logging no failure for it', async () => {
    db.exec('BEGIN EXCLUSIVE');
    let locked = true;
    try {
      // The first read begins and is held; the next two fill the reads kept waiting.
      const running = get(reportPath(1));
      await seen(() => asked.length === 2, 'the first report asked of the thread');
      const waiting = get(reportPath(2));
      const gone = new AbortController();
      const abandoned = get('/v1/billing-records?limit=1', gone.signal);
      await seen(() => asked.length === 4, 'the reads waiting asked of the thread');
      const again = get(reportPath(2));
      await seen(() => asked.length === 5, 'the report asked again');

      for (const path of [reportPath(3), '/v1/billing-records?limit=2']) {
        const refused = await get(path);
        const { error } = JSON.parse(refused.text) as {
          error: { code: string; message: string; requestId: string };
        };
        assert.deepEqual(
          [refused.status, error.code, refused.retryAfter],
          [503, 'UNAVAILABLE', '1'],
          `${path} is refused, to retry`,
        );
        assert.equal(
          error.message,
          'Tally has 2 reports and pages of billing records waiting to be read, as many as it keeps waiting: retry in a few seconds',
        );
        assert.equal(error.requestId, refused.requestId, 'the envelope names the request');
        assert.deepEqual(
          server.linesOf(error.requestId).map((line) => [line.level, line.event, line.path, line.code]),
          [['warn', 'request_refused', path.split('?')[0], 'UNAVAILABLE']],
          `${path}'s refusal is logged as one to retry, no failure`,
        );
      }

      // The page's caller goes away: its place is free for another.
      gone.abort();
      await assert.rejects(abandoned, { name: 'AbortError' });
      await seen(() => thread['waitingByKey'].size === 1, 'the abandoned page dropped');
      const taken = get('/v1/billing-records?limit=3');
      await seen(() => asked.length === 8, 'the page taken in its place');

      db.exec('COMMIT');
      locked = false;
      const answers = await Promise.all([running, waiting, again, taken]);
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [200, 200, 200, 200],
        answers.map((answer) => answer.text).join('\n'),
      );
      assert.equal(
        answers[2]?.text,
        answers[1]?.text,
        'the report asked again is answered with the one waiting',
      );
      assert.deepEqual(
        server.logged.filter((line) => line.includes('went away')),
        [],
        'a caller that went away is no failure of Tally’s',
      );
    } finally {
      if (locked) db.exec('COMMIT');
    }
  });

  it('drops a report whose caller went away while it waited, logging no failure for it', async () => {
    const before = asked.length;
    db.exec('BEGIN EXCLUSIVE');
    let locked = true;
    try {
      const running = get(reportPath(5));
      await seen(() => asked.length === before + 1, 'the report held asked of the thread');
      const gone = new AbortController();
      const abandoned = get(reportPath(6), gone.signal);
      await seen(() => thread['waitingByKey'].size === 1, 'the report waiting');
      gone.abort();
      await assert.rejects(abandoned, { name: 'AbortError' });
      await seen(() => thread['waitingByKey'].size === 0, 'the abandoned report dropped');
      db.exec('COMMIT');
      locked = false;
      assert.equal((await running).status, 200);
      assert.deepEqual(
        server.logged.filter((line) => line.includes('went away')),
        [],
        'a caller that went away is no failure of Tally’s',
      );
    } finally {
      if (locked) db.exec('COMMIT');
    }
  });
});
