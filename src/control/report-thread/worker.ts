// The report thread: runs report queries over the hourly rollups on a read-only connection of
// its own, so that a report over months never holds up the HTTP thread, which serves notices.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { SqliteLedger } from '../../adapters/sqlite/ledger.js';
import type { ReportAnswer, ReportRequest } from './protocol.js';

if (parentPort === null) throw new Error('src/control/report-thread/worker.ts runs as a worker thread');
const port: MessagePort = parentPort;
const ledger = new SqliteLedger(new Database(workerData as string, { readonly: true }));

port.on('message', ({ id, query }: ReportRequest) => {
  let answer: ReportAnswer;
  try {
    answer = { id, rows: ledger.report(query) };
  } catch (error) {
    answer = { id, error: String(error) };
  }
  port.postMessage(answer);
});
