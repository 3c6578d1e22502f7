import type { DispatcherOptions } from '../billing/dispatcher.js';
import type { SqliteSynchronous } from '../adapters/sqlite/database.js';
import type { Labels } from '../lib/metrics.js';
import type { WriteFault } from '../lib/write-fault.js';

/** What the counting thread is started with (it travels by structured clone). */
export interface CounterSettings {
  dbPath: string;
  /** FULL: each batch's commit is synced to the disk (see `WalSync`) before it is answered. */
  synchronous: SqliteSynchronous;
  dispatcher: DispatcherOptions;
  /** Raw notices older than this are pruned (counted events are kept). */
  retentionDays: number;
  pruneIntervalMs: number;
}

/**
 * Messages from the HTTP thread to the counting thread. Batches of decided events and their
 * outcomes travel as one string each (see `wire.ts`): one string is cheaper to pass than a
 * structured clone of many small objects. `abandon_calls`: the burl relay ends its calls in flight
 * (see `BurlDispatcher.abandonCalls`), Tally's shutdown grace period being over.
 */
export type ToCounter =
  { type: 'record'; id: number; batch: string } | { type: 'close' } | { type: 'abandon_calls' };

/** Messages from the counting thread to the HTTP thread. */
export type FromCounter =
  | { type: 'ready' }
  | { type: 'warm' }
  | { type: 'recorded'; id: number; outcomes: string }
  /** Not committed; `fault` names its fault, when Tally tells it apart (see `writeFaultOf`). */
  | { type: 'failed'; id: number; error: string; fault?: WriteFault }
  /** Committed with these outcomes, but the sync to the disk failed: see `UnsyncedCommitError`. */
  | { type: 'unsynced'; id: number; outcomes: string; error: string }
  | { type: 'metric'; name: string; help: string; labels: Labels; value: number }
  | { type: 'closed' };
