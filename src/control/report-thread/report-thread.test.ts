import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../../adapters/sqlite/database.js';
import { SqliteLedger } from '../../adapters/sqlite/ledger.js';
import { invalidTraffic } from '../../domain/outcome.js';
import { HOUR_MS, hourStartMs } from '../../lib/time.js';
import type { EventRecord, ReportQuery, ReportRow } from '../../ports/ledger.js';
import { ReadAbandonedError, ReportRefusedError, ReportsBusyError, ReportThread } from './report-thread.js';
import type { ReportMetric } from '../report-text.js';
import { hiddenMetricsOf } from '../reports.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-report-thread-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The hour the test events were served in (`T0` is half past it). */
const T0_HOUR_MS = hourStartMs(T0);
const query: ReportQuery = {
  accountId: 1,
  fromMs: T0_HOUR_MS - 86_400_000,
  toMs: T0_HOUR_MS + 86_400_000,
  groupBy: ['hour', 'outcome', 'reason'],
  filters: {},
};

/** The metrics the reports API leaves out for a key of account 1 scoped to a `type` (id 8). */
const hiddenFrom = (type: 'advertiser' | 'publisher'): readonly ReportMetric[] =>
  hiddenMetricsOf({ accountId: 1, keyId: 2, role: 'reader', scope: { type, id: 8 } });

/**
 * Runs `test` with a ledger of three events (one with a pending delivery) in a database of its
 * own, and a report thread on that database; closes both afterwards.
 */
async function withReportThread(
  name: string,
  test: (ledger: SqliteLedger, thread: ReportThread) => Promise<void>,
  maxWaitingReads?: number,
): Promise<void> {
  const dbPath = join(dir, name);
  const ledger = new SqliteLedger(openSqlite(dbPath));
  ledger.record([
    exchangeEvent({
      dedupe: { key: 'a', expiresMs: T0 + 600_000 },
      delivery: { url: 'u', deadlineMs: T0 + 1000 },
    }),
    exchangeEvent({ dedupe: { key: 'b', expiresMs: T0 + 600_000 } }),
    exchangeEvent({ outcome: invalidTraffic('bot_user_agent') }),
  ]);
  const thread = new ReportThread(dbPath, 'tally-reports', { maxWaitingReads });
  try {
    await test(ledger, thread);
  } finally {
    await thread.close();
    ledger.close();
  }
}

/** The rows of the thread's JSON answer to `query`. */
async function rowsOf(thread: ReportThread, query: ReportQuery): Promise<ReportRow[]> {
  const body = await thread.report({ query, output: 'json', maxRows: 1000, hiddenMetrics: [], warnings: [] });
  return (JSON.parse(Buffer.from(body).toString('utf8')) as { rows: ReportRow[] }).rows;
}

describe('the report thread', () => {
  it('writes the report out itself, as JSON or CSV, without the metrics it is told to leave out, with the warnings it is given in JSON, and refuses one of more rows than allowed', () =>
    withReportThread('written.db', async (_ledger, thread) => {
      const warnings = [{ code: 'unknown_tracker' as const, id: 9, message: 'tracker=9 names no tracker' }];
      const text = async (output: 'json' | 'csv', maxRows: number, hiddenMetrics: ReportMetric[] = []) =>
        Buffer.from(
          await thread.report({
            query: { ...query, groupBy: ['outcome'] },
            output,
            maxRows,
            hiddenMetrics,
            warnings,
          }),
        ).toString();
      const hidden: ReportMetric[] = ['mediaCostMicros', 'profitMicros'];
      assert.equal(
        await text('csv', 2, hidden),
        'outcome,events,priceMicros,revenueMicros\r\ncounted,2,2000000,0\r\nnot_counted,1,0,0\r\n',
      );
      assert.deepEqual(
        (JSON.parse(await text('json', 2, hidden)) as { rows: object[] }).rows.map((row) => Object.keys(row)),
        [
          ['events', 'priceMicros', 'revenueMicros', 'outcome'],
          ['events', 'priceMicros', 'revenueMicros', 'outcome'],
        ],
      );
      assert.deepEqual(JSON.parse(await text('json', 2)), {
        from: new Date(query.fromMs).toISOString(),
        to: new Date(query.toMs).toISOString(),
        groupBy: ['outcome'],
        warnings,
        rows: [
          {
            outcome: 'counted',
            events: 2,
            priceMicros: 2_000_000,
            mediaCostMicros: 0,
            revenueMicros: 0,
            profitMicros: 0,
          },
          {
            outcome: 'not_counted',
            events: 1,
            priceMicros: 0,
            mediaCostMicros: 0,
            revenueMicros: 0,
            profitMicros: 0,
          },
        ],
      });
      assert.equal(
        await text('csv', 2),
        'outcome,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros\r\ncounted,2,2000000,0,0,0\r\nnot_counted,1,0,0,0,0\r\n',
      );
      await assert.rejects(
        text('json', 1),
        (error: unknown) =>
          error instanceof ReportRefusedError &&
          error.code === 'REPORT_TOO_LARGE' &&
          /the report has more than 1 rows/.test(error.message),
      );
    }));

  it('answers reports from its own read-only connection with the rows the ledger holds', () =>
    withReportThread('same.db', async (ledger, thread) => {
      const rows = await rowsOf(thread, query);
      assert.deepEqual(rows, ledger.report(query));
      assert.deepEqual(
        rows.map((row) => [row.outcome, row.events]),
        [
          ['counted', 2],
          ['not_counted', 1],
        ],
      );
      ledger.record([exchangeEvent({ dedupe: { key: 'c', expiresMs: T0 + 600_000 } })]);
      assert.equal((await rowsOf(thread, query))[0]?.events, 3, 'it reads what was committed since');
    }));

  it('reports the hours that begin in [from, to), so back-to-back windows never count an hour twice', () =>
    withReportThread('back-to-back.db', async (_ledger, thread) => {
      const events = async (fromMs: number, toMs: number) =>
        (await rowsOf(thread, { ...query, fromMs, toMs, groupBy: [] }))[0]?.events ?? 0;
      assert.equal(await events(T0_HOUR_MS - HOUR_MS, T0_HOUR_MS), 0, 'the hour before');
      assert.equal(await events(T0_HOUR_MS, T0_HOUR_MS + HOUR_MS), 3, 'the hour served');
      assert.equal(await events(T0_HOUR_MS + HOUR_MS, T0_HOUR_MS + 2 * HOUR_MS), 0, 'the hour after');
      // Windows between hour starts (the API refuses them) still split the hours, never share one.
      const halves = [await events(T0_HOUR_MS, T0), await events(T0, T0_HOUR_MS + HOUR_MS)];
      assert.deepEqual(halves, [3, 0]);
    }));

  it('filters on an hour or a day given in UTC as toISOString writes it, and refuses a time without an offset', () =>
    withReportThread('time-filters.db', async (_ledger, thread) => {
      const events = async (filters: ReportQuery['filters']) =>
        (await rowsOf(thread, { ...query, groupBy: [], filters }))[0]?.events ?? 0;
      assert.equal(await events({ hour: new Date(T0_HOUR_MS).toISOString() }), 3);
      assert.equal(await events({ hour: new Date(T0_HOUR_MS + HOUR_MS).toISOString() }), 0);
      assert.equal(await events({ day: new Date(T0_HOUR_MS - (T0_HOUR_MS % 86_400_000)).toISOString() }), 3);
      // `Date.parse` would read it in the server's time zone.
      const local = new Date(T0_HOUR_MS).toISOString().slice(0, 19);
      await assert.rejects(events({ hour: local }), /expected a UTC time as toISOString writes it/);
    }));

  it('refuses, as a refusal and not a failure to retry, a report whose sum passes 2^53 - 1 micros', () =>
    withReportThread('beyond-safe.db', async (ledger, thread) => {
      const prices = [4_000_000_000_000_000, 4_000_000_000_000_000, 2_000_000_000_000_001];
      ledger.record(prices.map((priceMicros) => exchangeEvent({ priceMicros })));
      await assert.rejects(
        rowsOf(thread, { ...query, groupBy: [] }),
        (error: unknown) =>
          error instanceof ReportRefusedError &&
          /priceMicros add up to 10000000002000001,/.test(error.message),
      );
      // The thread lives on: the next report is answered.
      assert.equal(
        (await rowsOf(thread, { ...query, groupBy: [], filters: { outcome: 'not_counted' } }))[0]?.events,
        1,
      );
    }));

  it('answers a scoped key a report whose hidden metric alone passes 2^53 - 1, and never says that sum', () =>
    withReportThread('beyond-safe-hidden.db', async (ledger, thread) => {
      // Tracker hits whose ancost, which anyone firing the tracker sets, adds up past 2^53 - 1.
      const costs = [4_000_000_000_000_000, 4_000_000_000_000_000, 2_000_000_000_823_990];
      ledger.record(
        costs.map((mediaCostMicros, index) =>
          exchangeEvent({
            dims: { ...exchangeEvent().dims, impressionType: 'external_impression', auctionId: `t${index}` },
            priceMicros: 0,
            mediaCostMicros,
            revenueMicros: 2500,
          }),
        ),
      );
      const hiddenMetrics: ReportMetric[] = ['mediaCostMicros', 'profitMicros'];
      const report = { ...query, groupBy: [], filters: { impressionType: 'external_impression' } };
      const body = await thread.report({
        query: report,
        output: 'json',
        maxRows: 1000,
        hiddenMetrics,
        warnings: [],
      });
      assert.deepEqual(JSON.parse(Buffer.from(body).toString('utf8')).rows, [
        { events: 3, priceMicros: 0, revenueMicros: 7500 },
      ]);
      // An account-wide key, which sees the media cost, is told to ask for CSV.
      await assert.rejects(
        rowsOf(thread, report),
        (error: unknown) =>
          error instanceof ReportRefusedError &&
          /mediaCostMicros add up to 10000000000823990,/.test(error.message),
      );
    }));

  it('neither refuses a scoped key for the other side’s money nor tells it of any: in other units, or past what the ledger adds up', () =>
    withReportThread('hidden-amounts.db', async (ledger, thread) => {
      const hit = (trackerId: number, index: number, money: Partial<EventRecord>) =>
        exchangeEvent({
          dims: {
            ...exchangeEvent().dims,
            impressionType: 'external_impression',
            currency: '',
            trackerId,
            auctionId: `t${trackerId}-${index}`,
          },
          priceMicros: 0,
          ...money,
        });
      const rowsFor = async (hiddenMetrics: readonly ReportMetric[], filters: ReportQuery['filters']) => {
        const body = await thread.report({
          query: { ...query, groupBy: [], filters },
          output: 'json',
          maxRows: 10,
          hiddenMetrics,
          warnings: [],
        });
        return (JSON.parse(Buffer.from(body).toString('utf8')) as { rows: object[] }).rows;
      };
      // A tracker whose payment rule pays nothing: its hits carry revenue alone, in trackers' units,
      // beside the exchange's USD. A publisher's key sees no revenue: nothing it is shown is mixed.
      ledger.record([hit(1, 0, { revenueMicros: 1000 })]);
      assert.deepEqual(await rowsFor(hiddenFrom('publisher'), {}), [{ events: 4, mediaCostMicros: 0 }]);
      // Another tracker's forged costs pass 2^63 - 1 micros in the hour: an advertiser's key, which
      // sees no cost, still gets its revenue.
      ledger.record(
        Array.from({ length: 1030 }, (_, index) =>
          hit(2, index, { mediaCostMicros: 9_000_000_000_000_000, revenueMicros: 1 }),
        ),
      );
      assert.deepEqual(await rowsFor(hiddenFrom('advertiser'), { tracker: '2' }), [
        { events: 1030, priceMicros: 0, revenueMicros: 1030 },
      ]);
      await assert.rejects(
        rowsFor([], { tracker: '2' }),
        (error: unknown) =>
          error instanceof ReportRefusedError && /sum reached 2\^63 - 1/.test(error.message),
      );
    }));

  it('leaves the clearing prices out of a publisher-scoped key’s report: not written, not added up, neither refused for nor told', () =>
    withReportThread('hidden-prices.db', async (ledger, thread) => {
      // Its exchange impressions: two in USD (the thread's), one in EUR, and three whose clearing
      // prices add up past 2^53 - 1 micros in USD.
      const prices = [4_000_000_000_000_000, 4_000_000_000_000_000, 2_000_000_000_000_001];
      ledger.record([
        exchangeEvent({ dims: { ...exchangeEvent().dims, currency: 'EUR', auctionId: 'eur' } }),
        ...prices.map((priceMicros, index) =>
          exchangeEvent({ dims: { ...exchangeEvent().dims, auctionId: `big-${index}` }, priceMicros }),
        ),
      ]);
      const publisherKey = hiddenFrom('publisher');
      const text = async (output: 'json' | 'csv', hiddenMetrics: readonly ReportMetric[]) =>
        Buffer.from(
          await thread.report({
            query: { ...query, groupBy: ['outcome'] },
            output,
            maxRows: 10,
            hiddenMetrics,
            warnings: [],
          }),
        ).toString();
      const json = await text('json', publisherKey);
      assert.deepEqual((JSON.parse(json) as { rows: object[] }).rows, [
        { outcome: 'counted', events: 6, mediaCostMicros: 0 },
        { outcome: 'not_counted', events: 1, mediaCostMicros: 0 },
      ]);
      assert.equal(
        await text('csv', publisherKey),
        'outcome,events,mediaCostMicros\r\ncounted,6,0\r\nnot_counted,1,0\r\n',
      );
      // An account-wide key, shown the prices, is refused the same report (USD beside EUR), and in
      // JSON its USD part (past 2^53 - 1), told the sum; the publisher's key gets that part too.
      await assert.rejects(
        text('json', []),
        (error: unknown) =>
          error instanceof ReportRefusedError &&
          error.code === 'MIXED_CURRENCIES' &&
          /amounts are in EUR, USD/.test(error.message),
      );
      const inUsd = { ...query, groupBy: [], filters: { currency: 'USD' } };
      await assert.rejects(
        thread.report({ query: inUsd, output: 'json', maxRows: 10, hiddenMetrics: [], warnings: [] }),
        (error: unknown) =>
          error instanceof ReportRefusedError &&
          error.code === 'REPORT_TOO_LARGE' &&
          /priceMicros add up to 10000000002000001,/.test(error.message),
      );
      const usd = await thread.report({
        query: inUsd,
        output: 'json',
        maxRows: 10,
        hiddenMetrics: publisherKey,
        warnings: [],
      });
      assert.deepEqual(JSON.parse(Buffer.from(usd).toString('utf8')).rows, [
        { events: 5, mediaCostMicros: 0 },
      ]);
    }));

  it('fails, as a failure to retry and not a refusal, a report the database could not run', () =>
    withReportThread('broken.db', async (_ledger, thread) => {
      await rowsOf(thread, query);
      // Fault injection: the table reports read is dropped under the running thread.
      const db = openSqlite(join(dir, 'broken.db'));
      db.exec('DROP TABLE rollup_hourly');
      db.close();
      await assert.rejects(
        rowsOf(thread, query),
        (error: unknown) =>
          !(error instanceof ReportRefusedError) && /no such table: rollup_hourly/.test(String(error)),
      );
    }));

  it('counts the outbox by status off the HTTP thread, as the ledger does, how long its oldest due delivery has waited, and how old its oldest pending one is', () =>
    withReportThread('outbox.db', async (ledger, thread) => {
      ledger.record([
        exchangeEvent({
          dedupe: { key: 'redirected', expiresMs: T0 + 600_000 },
          delivery: { url: 'r', deadlineMs: T0, redirected: true },
        }),
      ]);
      assert.deepEqual(await thread.outbox(T0 + 5000), {
        counts: { pending: 1, delivered: 0, dead: 0, redirected: 1 },
        relayLagMs: 5000,
        oldestPendingAgeMs: 5000,
      });
      assert.deepEqual((await thread.outbox(T0 + 5000)).counts, ledger.countDeliveries());
      assert.equal((await thread.outbox(T0 - 1)).relayLagMs, 0, 'nothing is due yet');
      assert.equal((await thread.outbox(T0)).relayLagMs, 0, 'due this moment');
      assert.equal((await thread.outbox(T0 - 1)).oldestPendingAgeMs, 0, 'the clock stepped back');
    }));

  it('counts the delivered deliveries again at the next read while counting them takes little time', () =>
    withReportThread('outbox-delivered.db', async (ledger, thread) => {
      assert.deepEqual((await thread.outbox(T0 + 5000)).counts, {
        pending: 1,
        delivered: 0,
        dead: 0,
        redirected: 0,
      });
      const [leased] = ledger.leaseDeliveries(T0 + 5000, 1, 5000);
      ledger.markDelivered(leased?.id ?? 0, T0 + 5000);
      assert.deepEqual((await thread.outbox(T0 + 65_000)).counts, {
        pending: 0,
        delivered: 1,
        dead: 0,
        redirected: 0,
      });
    }));

  it('fails the reports of a thread that died and starts a new thread for the next one', () =>
    withReportThread('dies.db', async (ledger, thread) => {
      await rowsOf(thread, query);
      // Fault injection: the thread is stopped with a report on its way.
      const stopped = thread['thread']['worker']?.terminate();
      const lost = rowsOf(thread, query);
      await stopped;
      await assert.rejects(lost, /the report thread exited/);
      assert.deepEqual(await rowsOf(thread, query), ledger.report(query));
    }));

  it('refuses a read after it was closed instead of starting a thread that nothing would stop', () =>
    withReportThread('closed.db', async (_ledger, thread) => {
      await rowsOf(thread, query);
      await thread.close();
      await assert.rejects(rowsOf(thread, query), /the report thread is closed/);
      await assert.rejects(thread.outbox(T0), /the report thread is closed/);
      assert.equal(thread['thread']['worker'], undefined);
    }));
});

describe('reads asked again while they wait', () => {
  it('reads once a report or a page of billing records asked again while it waits (a caller that gave up asks again), answering each caller with that read, and every other read on its own', () =>
    withReportThread('again.db', async (ledger, thread) => {
      const report = { query, output: 'json' as const, maxRows: 1000, hiddenMetrics: [], warnings: [] };
      const page = { accountId: 1, limit: 10 };
      // The first read has begun on the thread; those after it wait their turn.
      const running = thread.report(report);
      const reports = [thread.report(report), thread.report({ ...report })];
      const csv = thread.report({ ...report, output: 'csv' });
      const pages = [thread.billingRecords(page), thread.billingRecords({ ...page })];
      const otherPage = thread.billingRecords({ ...page, limit: 1 });
      const [first, second] = await Promise.all(reports);
      assert.equal(first, second, 'one read answers both callers');
      assert.notEqual(await running, first, 'a read already begun is not shared with one asked after it');
      const rowsOf = (body: Uint8Array | undefined) =>
        (JSON.parse(Buffer.from(body ?? new Uint8Array()).toString('utf8')) as { rows: ReportRow[] }).rows;
      assert.deepEqual(rowsOf(first), ledger.report(query));
      assert.deepEqual(rowsOf(await running), ledger.report(query));
      assert.match(Buffer.from(await csv).toString('utf8'), /^hour,outcome,reason,events,/);
      const [firstPage, secondPage] = await Promise.all(pages);
      assert.equal(firstPage, secondPage, 'one read answers both callers');
      assert.deepEqual(
        firstPage?.records.map((record) => record.auctionId),
        ['a', 'a'],
      );
      assert.equal((await otherPage).records.length, 1);
    }));
});

describe('the reads kept waiting', () => {
  const page = { accountId: 1, limit: 10 };

  it('refuses a new report or page once the most reads kept waiting wait, saying how many, but never one joining a read waiting nor a read of the outbox, and takes new ones again once they are read', () =>
    withReportThread(
      'bounded.db',
      async (_ledger, thread) => {
        const report = { query, output: 'json' as const, maxRows: 1000, hiddenMetrics: [], warnings: [] };
        // The first read has begun on the thread; the two after it fill the reads kept waiting.
        const running = thread.billingRecords(page);
        const waiting = [thread.report(report), thread.billingRecords({ ...page, limit: 1 })];
        const busy = (error: unknown) =>
          error instanceof ReportsBusyError &&
          error.message ===
            'Tally has 2 reports and pages of billing records waiting to be read, as many as it keeps waiting: retry in a few seconds';
        await assert.rejects(thread.report({ ...report, output: 'csv' }), busy);
        await assert.rejects(thread.billingRecords({ ...page, limit: 2 }), busy);
        const joined = [thread.report({ ...report }), thread.billingRecords({ ...page, limit: 1 })];
        const outbox = thread.outbox(T0);
        assert.equal(await joined[0], await waiting[0], 'the same report asked again joins the one waiting');
        assert.equal(await joined[1], await waiting[1], 'the same page asked again joins the one waiting');
        assert.equal((await running).records.length, 2);
        assert.equal((await outbox).counts.pending, 1);
        assert.equal((await thread.billingRecords({ ...page, limit: 2 })).records.length, 2);
      },
      2,
    ));

  it('drops a waiting read once every caller asking it went away, freeing its place, and reads one that a caller still waits for', () =>
    withReportThread(
      'abandoned.db',
      async (_ledger, thread) => {
        const running = thread.billingRecords(page);
        const [first, second, third, staying] = Array.from({ length: 4 }, () => new AbortController());
        const dropped = [
          thread.billingRecords({ ...page, limit: 1 }, first?.signal),
          thread.billingRecords({ ...page, limit: 1 }, second?.signal),
        ];
        const kept = [
          thread.billingRecords({ ...page, limit: 2 }, third?.signal),
          thread.billingRecords({ ...page, limit: 2 }, staying?.signal),
        ];
        first?.abort();
        second?.abort();
        third?.abort();
        // Refused were the dropped read still counted among the two kept waiting.
        const taken = thread.billingRecords({ ...page, limit: 3 });
        for (const read of dropped) await assert.rejects(read, ReadAbandonedError);
        const [keptPage, joinedPage] = await Promise.all(kept);
        assert.equal(keptPage, joinedPage, 'one read answers the caller still waiting');
        assert.equal(keptPage?.records.length, 2);
        assert.equal((await taken).records.length, 2);
        assert.equal((await running).records.length, 2);
        await assert.rejects(thread.billingRecords(page, AbortSignal.abort()), ReadAbandonedError);
      },
      2,
    ));
});

describe('a report larger than the report thread can hold', () => {
  it('is refused as REPORT_TOO_LARGE, saying to narrow it, rather than as a failure worth retrying', () => {
    const dbPath = join(dir, 'seats.db');
    const ledger = new SqliteLedger(openSqlite(dbPath));
    const seats = 200_000;
    for (let first = 0; first < seats; first += 10_000) {
      ledger.record(
        Array.from({ length: 10_000 }, (_, index) => {
          const event = exchangeEvent();
          return { ...event, dims: { ...event.dims, seat: `seat-${first + index}` } };
        }),
      );
    }
    ledger.close();
    // A process of its own with a small heap, which its report thread takes too; allowed every row.
    const run = fileURLToPath(new URL('../../../test/support/report-out-of-memory.ts', import.meta.url));
    const printed = execFileSync(
      process.execPath,
      ['--max-old-space-size=48', '--import', 'tsx', run, dbPath, String(seats)],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.deepEqual(JSON.parse(printed), {
      code: 'REPORT_TOO_LARGE',
      message:
        "the report needs more memory than Tally's report thread has (it may be allowed more rows, TALLY_REPORT_MAX_ROWS, than it can hold): narrow from and to, group by fewer dimensions or filter on some",
    });
  });
});
