// A counting thread pruning every 100 ms with a retention of a day, run as a process of its own
// (`node --import tsx test/support/pruning-thread.ts <ledger file>`) so that a test can move its
// wall clock (libfaketime, see fake-clock.ts). It records a notice that did not count and a counted
// one, received now by its clock, prints `recorded`, and runs until SIGTERM. The thread's log lines
// (`pruned` after each pass) go to stdout.
import { notCounted } from '../../src/domain/outcome.js';
import { hourStartMs } from '../../src/lib/time.js';
import { jsonLogger } from '../../src/lib/log.js';
import { Metrics } from '../../src/lib/metrics.js';
import { WorkerRecorder } from '../../src/counting-thread/worker-recorder.js';
import { counterSettings } from './counter-settings.js';
import { exchangeEvent } from './events.js';

const dbPath = process.argv[2];
if (dbPath === undefined) throw new Error('usage: pruning-thread.ts <ledger file>');
const recorder = new WorkerRecorder(
  counterSettings(dbPath, { retentionDays: 1, pruneIntervalMs: 100 }),
  new Metrics(),
  jsonLogger(),
);
await recorder.start();
const receivedMs = Date.now();
const received = { receivedMs, servedHourMs: hourStartMs(receivedMs) };
// The newest event is never pruned: the one that did not count comes first.
await recorder.record([
  exchangeEvent({ ...received, outcome: notCounted('late') }),
  exchangeEvent({ ...received, dims: { ...exchangeEvent().dims, auctionId: 'counted' } }),
]);
process.stdout.write('recorded\n');
process.once('SIGTERM', () => void recorder.close());
