import type Database from 'better-sqlite3';
import type { Server } from 'node:http';
import type { DataDirLock } from '../adapters/sqlite/data-dir-lock.js';
import type { CatalogSnapshot } from '../catalog-snapshot.js';
import type { ReportThread } from '../control/report-thread/report-thread.js';
import type { WinThreads } from '../control/win-thread/win-thread.js';
import type { WorkerRecorder } from '../counting-thread/worker-recorder.js';
import type { GroupCommitter } from '../hot/group-commit.js';
import type { NoticeLane } from '../hot/notice-lane.js';
import type { Logger } from '../lib/log.js';
import type { DataDiskSpace } from './data-disk-space.js';
import type { ServingState } from './serving-state.js';
import type { WatchedLedgerFile } from './watched-ledger-file.js';

/** What a shutdown stops and closes, all that a start opened but the held port. */
export interface Running {
  state: ServingState;
  server: Server;
  lane: NoticeLane;
  catalogSnapshot: CatalogSnapshot;
  committer: GroupCommitter;
  recorder: WorkerRecorder;
  reports: ReportThread;
  outboxCounter: ReportThread;
  wins: WinThreads;
  ledgerFile: WatchedLedgerFile;
  dataDisk: DataDiskSpace;
  db: Database.Database;
  lock: DataDirLock;
  log: Logger;
}

/** How a running Tally stops. */
export interface Shutdown {
  /** `Tally.close()`: the first call shuts down, every call answers that shutdown. */
  close: () => Promise<void>;
  /**
   * Destroys every connection still open: their requests in flight are never answered. Abandons
   * the burl relay's calls in flight too, which would hold the shutdown up to their time limit
   * (`TALLY_BURL_TIMEOUT_MS`): their deliveries stay pending, sent at the next start. Does nothing
   * before `close()`; `why` is logged.
   */
  closeConnectionsNow: (why: string) => void;
}

/**
 * The shutdown of a running Tally: see `Tally.close()` and `Tally.closeConnectionsNow()`.
 * `graceMs` (`TALLY_SHUTDOWN_GRACE_SECONDS`) is how long it waits for the requests in flight and
 * their connections to end before it closes those still open (node:http stops timing out slow
 * requests once the server closes, so without this a stalled client would keep the process from
 * ever exiting), and for the burl calls in flight before it abandons them (a DSP that never answers
 * would hold it up to `TALLY_BURL_TIMEOUT_MS`, up to two minutes).
 */
export function shutdownOf(tally: Running, graceMs: number): Shutdown {
  let closing: Promise<void> | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  /** Set once every connection ended, during `close()`. */
  let connectionsEnded = false;
  const closeConnectionsNow = (why: string): void => {
    if (closing === undefined) return;
    clearTimeout(graceTimer);
    tally.recorder.abandonCalls();
    if (connectionsEnded) return;
    const laneConnections = tally.lane.closeAllConnections();
    tally.server.closeAllConnections();
    tally.log.warn('connections_closed', { why, laneConnections });
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      tally.state.ready = false;
      tally.state.shuttingDown = true;
      tally.catalogSnapshot.stop();
      tally.dataDisk.stop();
      // When the server never listened, this is called back at once (with an error that changes nothing).
      const closed = new Promise<void>((resolve) => tally.server.close(() => resolve()));
      tally.server.closeIdleConnections();
      tally.lane.close();
      graceTimer = setTimeout(() => closeConnectionsNow('shutdown_grace_expired'), graceMs);
      await tally.committer.drain();
      await closed;
      connectionsEnded = true;
      await tally.committer.drain();
      // The grace period still bounds the burl calls in flight, which the thread waits for.
      await tally.recorder.close();
      clearTimeout(graceTimer);
      await tally.reports.close();
      await tally.outboxCounter.close();
      await tally.wins.close();
      // Closing the last connection removes the WAL and its index: that is no ledger file lost.
      tally.ledgerFile.stopWatching();
      tally.db.close();
      tally.lock.release();
    })();
    return closing;
  };
  return { close, closeConnectionsNow };
}
