// The counting thread: owns every write to the ledger. It commits each batch of decided events
// in one transaction (claiming their impressions, synced to the disk off the HTTP thread),
// relays DSP burls from the outbox and prunes old raw notices.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { openSqlite } from '../adapters/sqlite/database.js';
import { CLAIM_LOAD_MARGIN_MS } from '../adapters/sqlite/ledger-claims.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { WalSync } from '../adapters/sqlite/wal-sync.js';
import type { Outcome } from '../domain/outcome.js';
import type { EventRecord } from '../ports/ledger.js';
import { BurlDispatcher } from '../billing/dispatcher.js';
import { jsonLogger } from '../lib/log.js';
import { throttledErrorLog } from '../lib/throttled-log.js';
import { errorCode } from '../lib/error-code.js';
import { writeFailureFields, writeFaultOf } from '../lib/write-fault.js';
import type { WriteFault } from '../lib/write-fault.js';
import type { CounterSink } from '../lib/metrics.js';
import type { CounterSettings, FromCounter, ToCounter } from './protocol.js';
import { nameThisThread } from '../lib/thread-name.js';
import { isBatchFault } from './batch-fault.js';
import { clockStepWatch, wallClockJumpWatch } from './clock-step.js';
import { decodeBatch, encodeOutcomes } from './wire.js';
import { PRUNE_ROWS_PER_STEP } from './prune-step.js';
import { retentionClock } from './retention-clock.js';

const DAY_MS = 86_400_000;

if (parentPort === null) throw new Error('src/counting-thread/worker.ts runs as a worker thread');
const port: MessagePort = parentPort;
nameThisThread('tally-counting');
const send = (message: FromCounter) => port.postMessage(message);

const settings = workerData as CounterSettings;
const log = jsonLogger();
/** A failing ledger fails every batch: logged as it begins, then once a second. */
const logCommitFailure = throttledErrorLog(log, 'commit_failed', 1000);
// FULL: SQLite commits as NORMAL and each batch's commit is made durable by one fdatasync of
// the WAL before it is answered (see WalSync); the burl relay's and pruning's own small commits
// are made durable by the next batch's.
const walSync = settings.synchronous === 'FULL' ? new WalSync(settings.dbPath) : undefined;
const ledger = new SqliteLedger(
  openSqlite(settings.dbPath, walSync === undefined ? settings.synchronous : 'NORMAL', { create: false }),
);
const metrics: CounterSink = {
  inc: (name, help, labels = {}, value = 1) => send({ type: 'metric', name, help, labels, value }),
};
const dispatcher = new BurlDispatcher(ledger, settings.dispatcher, metrics, log);
/** Now for pruning: a wall clock stepped forward since the start does not advance it. */
const retentionNowMs = retentionClock(
  Math.max(Date.now(), ledger.newestReceivedMs() ?? Number.NEGATIVE_INFINITY),
  performance.now(),
);
/** Prunes what is past the retention now. */
const pruneNow = () =>
  pruneInSteps(retentionNowMs(Date.now(), performance.now()) - settings.retentionDays * DAY_MS);
/**
 * A notice received well before those recorded so far means the clock stepped back further than
 * the claim index keeps expired claims: the ledger rebuilds the index for it (a pause of seconds
 * with millions of claims). Logged, once a minute at most, for the operator to mend the clock.
 */
const logClockSteppedBack = throttledErrorLog(log, 'clock_stepped_back', 60_000);
const watchClock = clockStepWatch(
  CLAIM_LOAD_MARGIN_MS,
  (steppedBackMs) =>
    logClockSteppedBack({
      steppedBackMs,
      note: 'the clock went back further than the claim index keeps expired claims (10 s): the index is rebuilt from the ledger, and notices wait for it; step the clock forward only, or slew it',
    }),
  ledger.newestReceivedMs(),
);
/**
 * The wall clock gone forward at once: notices of wins whose auction times came from a clock that
 * did not (an exchange's) read as late while it is ahead, and are not counted. Logged, once a
 * minute at most, for the operator to check the clock.
 */
const logClockSteppedForward = throttledErrorLog(log, 'clock_stepped_forward', 60_000);
const watchWallClock = wallClockJumpWatch(CLAIM_LOAD_MARGIN_MS, (steppedForwardMs) =>
  logClockSteppedForward({
    steppedForwardMs,
    note: 'the clock went forward further than time passed (a step, or the machine paused): if it is now ahead, notices of wins whose auction times came from a correct clock are late and not counted; step it back only if it is ahead, or slew it',
  }),
);
const pruneTimer = setInterval(pruneNow, settings.pruneIntervalMs);
pruneTimer.unref();

port.on('message', (first: ToCounter) => {
  // Batches that queued up while the last commit ran are committed together, in one transaction.
  const records: Extract<ToCounter, { type: 'record' }>[] = [];
  let closing = false;
  let abandoning = false;
  for (let message: ToCounter | undefined = first; message !== undefined; message = nextMessage()) {
    if (message.type === 'record') records.push(message);
    else if (message.type === 'close') closing = true;
    else abandoning = true;
  }
  if (records.length > 0) commit(records);
  if (abandoning) dispatcher.abandonCalls();
  if (closing) close();
});

/** True while a pruning pass is under way. */
let pruning = false;
/** Set once the thread is closing: a pass under way stops between two steps. */
let shuttingDown = false;

/**
 * Prunes in bounded steps, each its own short transaction, with the event loop let through in
 * between so that batches of notices commit between the steps instead of waiting for a whole pass.
 */
function pruneInSteps(beforeMs: number): void {
  if (pruning) return;
  pruning = true;
  const total = { events: 0, deliveries: 0 };
  const nextStep = () => {
    if (shuttingDown) return;
    try {
      const step = ledger.prune(beforeMs, PRUNE_ROWS_PER_STEP);
      total.events += step.events;
      total.deliveries += step.deliveries;
      if (!step.done) {
        setImmediate(nextStep);
        return;
      }
      log.info('pruned', total);
    } catch (error) {
      log.error('prune_failed', { error: String(error), ...total });
    }
    pruning = false;
  };
  nextStep();
}

function nextMessage(): ToCounter | undefined {
  return receiveMessageOnPort(port)?.message as ToCounter | undefined;
}

function commit(records: readonly Extract<ToCounter, { type: 'record' }>[]): void {
  const fail = (error: unknown, fault?: WriteFault) => {
    for (const record of records) send({ type: 'failed', id: record.id, error: String(error), fault });
  };
  let batches: EventRecord[][];
  let outcomes: Outcome[];
  try {
    batches = records.map((record) => decodeBatch(record.batch));
    const events = batches.flat();
    for (const event of events) watchClock(event.receivedMs);
    watchWallClock(Date.now(), performance.now());
    outcomes = ledger.record(events);
  } catch (error) {
    // Nothing was written. When one batch's data was at fault, the batches merged into the
    // transaction are tried one by one, so that it fails its own notices and no other's; a fault
    // of the database (locked, full, failing) would only fail each again, as long each time.
    if (records.length > 1 && isBatchFault(error)) for (const record of records) commit([record]);
    else {
      logCommitFailure(writeFailureFields(error));
      fail(error, writeFaultOf(errorCode(error)));
    }
    return;
  }
  let unsynced: Error | undefined;
  try {
    walSync?.sync();
  } catch (error) {
    unsynced = error instanceof Error ? error : new Error(String(error));
  }
  let offset = 0;
  records.forEach((record, index) => {
    const size = batches[index]?.length ?? 0;
    const recorded = encodeOutcomes(outcomes.slice(offset, offset + size));
    offset += size;
    // Committed but not durable: never acknowledged, though recorded with these outcomes.
    if (unsynced === undefined) send({ type: 'recorded', id: record.id, outcomes: recorded });
    else send({ type: 'unsynced', id: record.id, outcomes: recorded, error: String(unsynced) });
  });
  if (unsynced !== undefined) {
    // The thread ends (a new one reopens the ledger) rather than trust a disk that refused a sync.
    log.error('wal_sync_failed', { error: String(unsynced) });
    throw unsynced;
  }
}

function close(): void {
  shuttingDown = true;
  clearInterval(pruneTimer);
  void dispatcher.stop().then(() => {
    ledger.close();
    walSync?.close();
    send({ type: 'closed' });
    port.close();
  });
}

dispatcher.start();
send({ type: 'ready' });
// Batches that arrive meanwhile wait in the port; /readyz answers 503 until the claims are in.
setImmediate(() => {
  // A close that came first (the server could not listen) may already have closed the ledger.
  if (shuttingDown) return;
  const startedMs = performance.now();
  let liveClaims: number;
  try {
    liveClaims = ledger.loadClaims(Date.now());
  } catch (error) {
    // The thread ends, and the server is told its error's code alone (a SQLite error's message
    // does not cross threads): the whole of it is logged here.
    log.error('claims_load_failed', { error: String(error) });
    throw error;
  }
  log.info('claims_loaded', { liveClaims, ms: Math.round(performance.now() - startedMs) });
  send({ type: 'warm' });
  // A first pass now, not an interval after each start: a Tally restarted (or a counting thread
  // replaced) more often than that would otherwise never prune.
  pruneNow();
});
