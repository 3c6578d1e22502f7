// A report thread: runs the control plane's heavy reads (reports over the hourly rollups, written
// out as JSON or CSV; pages of billing records, each a long run of the ledger; the outbox counted
// by status) on a read-only connection of its own, so that they never hold up the HTTP thread,
// which serves notices.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteLedger } from '../../adapters/sqlite/ledger.js';
import { serveRequests } from '../../lib/request-thread.js';
import { DELIVERY_STATUSES, REPORT_AMOUNTS, ReportRefusal, ReportTooLargeError } from '../../ports/ledger.js';
import type { DeliveryStatus } from '../../ports/ledger.js';
import { RecountedValue } from './recounted-value.js';
import type { ReadAnswer, ReadRequest, ReportRequest, ReportThreadData } from './protocol.js';
import { nameThisThread } from '../../lib/thread-name.js';
import { reportText } from '../report-text.js';

if (parentPort === null) throw new Error('src/control/report-thread/worker.ts runs as a worker thread');
const { dbPath, threadName } = workerData as ReportThreadData;
nameThisThread(threadName);
const ledger = new SqliteLedger(new Database(dbPath, { readonly: true }));

/**
 * The deliveries of each status, counted again only once a hundred times as long as their last
 * count took has passed, so that counting them keeps this thread busy 1 % of the time at most:
 * at every read while they are few (the usual pending and dead), every few seconds or minutes when
 * there are millions (delivered and redirected ones, kept for the retention; dead ones, kept until
 * replayed, after days of a DSP down).
 */
const RECOUNT_FACTOR = 100;
const outboxCounts = Object.fromEntries(
  DELIVERY_STATUSES.map((status) => [
    status,
    new RecountedValue(() => ledger.countDeliveriesWith(status), RECOUNT_FACTOR),
  ]),
) as Record<DeliveryStatus, RecountedValue>;

serveRequests(parentPort, (read: ReadRequest): ReadAnswer => {
  if (read.type === 'outbox') {
    const dueMs = ledger.oldestDueMs(read.nowMs);
    const relayLagMs = dueMs === undefined ? 0 : read.nowMs - dueMs;
    const createdMs = ledger.oldestPendingCreatedMs();
    // Never below 0, should the wall clock have stepped back since it was stored.
    const oldestPendingAgeMs = createdMs === undefined ? 0 : Math.max(0, read.nowMs - createdMs);
    const counts = Object.fromEntries(
      DELIVERY_STATUSES.map((status) => [status, outboxCounts[status].read(read.nowMs)]),
    ) as Record<DeliveryStatus, number>;
    return { outbox: { counts, relayLagMs, oldestPendingAgeMs } };
  }
  if (read.type === 'billingRecords') return { billingRecords: ledger.listBillingRecords(read.query) };
  try {
    return { body: reportBody(read.report) };
  } catch (error) {
    // A report that cannot be answered as asked, unlike a failure worth retrying.
    if (error instanceof ReportRefusal) return { refused: error.message, code: error.code };
    throw error;
  }
});

function reportBody({ query, output, maxRows, hiddenMetrics, warnings }: ReportRequest): Uint8Array {
  // One row more than allowed tells a report that is too large without building it all. Sums are
  // read exactly: CSV writes any integer, and JSON refuses one past 2^53 - 1 only among the metrics
  // it shows (`reportText`), never for a metric the key may not see.
  const rows = ledger.report({
    ...query,
    maxRows: maxRows + 1,
    exactSums: true,
    hiddenAmounts: REPORT_AMOUNTS.filter((amount) => hiddenMetrics.includes(amount)),
  });
  if (rows.length > maxRows) {
    throw new ReportTooLargeError(
      `the report has more than ${maxRows} rows: narrow from and to, group by fewer dimensions or filter on some`,
    );
  }
  return Buffer.from(reportText(query, rows, output, hiddenMetrics, warnings));
}
