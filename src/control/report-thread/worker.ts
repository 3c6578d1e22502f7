// The report thread: runs the control plane's heavy reads (reports over the hourly rollups, the
// outbox counted by status) on a read-only connection of its own, so that they never hold up
// the HTTP thread, which serves notices.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { SqliteLedger } from '../../adapters/sqlite/ledger.js';
import type { ReadAnswer, ReadRequest } from './protocol.js';

if (parentPort === null) throw new Error('src/control/report-thread/worker.ts runs as a worker thread');
const port: MessagePort = parentPort;
const ledger = new SqliteLedger(new Database(workerData as string, { readonly: true }));

port.on('message', (request: ReadRequest) => {
  let answer: ReadAnswer;
  try {
    answer =
      request.type === 'report'
        ? { id: request.id, rows: ledger.report(request.query) }
        : { id: request.id, counts: ledger.countDeliveries() };
  } catch (error) {
    answer = { id: request.id, error: String(error) };
  }
  port.postMessage(answer);
});
