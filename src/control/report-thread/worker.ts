// The report thread: runs the control plane's heavy reads (reports over the hourly rollups, the
// outbox counted by status) on a read-only connection of its own, so that they never hold up
// the HTTP thread, which serves notices.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteLedger } from '../../adapters/sqlite/ledger.js';
import { serveRequests } from '../../lib/request-thread.js';
import { ReportRefusal } from '../../ports/ledger.js';
import type { ReadAnswer, ReadRequest } from './protocol.js';
import { nameThisThread } from '../../lib/thread-name.js';

if (parentPort === null) throw new Error('src/control/report-thread/worker.ts runs as a worker thread');
nameThisThread('tally-reports');
const ledger = new SqliteLedger(new Database(workerData as string, { readonly: true }));

serveRequests(parentPort, (read: ReadRequest): ReadAnswer => {
  if (read.type !== 'report') return { counts: ledger.countDeliveries() };
  try {
    return { rows: ledger.report(read.query) };
  } catch (error) {
    // A report that cannot be answered as asked, unlike a failure worth retrying.
    if (error instanceof ReportRefusal) return { refused: error.message, code: error.code };
    throw error;
  }
});
