import { watchLedgerFile } from '../adapters/sqlite/ledger-file-watch.js';
import type { Logger } from '../lib/log.js';

/** The ledger's file, checked to be the one Tally opened while it runs (see `watchLedgerFile`). */
export interface WatchedLedgerFile {
  /** Why the ledger's file is not where Tally opened it (notices are then refused), if it is not. */
  problem(): string | undefined;
  /** Stops checking. */
  stopWatching: () => void;
}

/** Watches the ledger's file at `dbPath`, logging when it is gone and when it is back. */
export function watchLedgerFileLogged(dbPath: string, log: Logger): WatchedLedgerFile {
  let ledgerFileProblem: string | undefined;
  const stopWatchingLedgerFile = watchLedgerFile(dbPath, {
    gone: (why) => {
      ledgerFileProblem = why;
      log.error('ledger_file_gone', {
        error: why,
        note: 'notices are answered 503 until it is back; if tally.db was deleted, restore it from a backup and restart; if its -wal or -shm was, stop Tally cleanly (SIGTERM), which writes what it committed into tally.db, and start it again',
      });
    },
    back: () => {
      ledgerFileProblem = undefined;
      log.warn('ledger_file_back', {
        note: `${dbPath} is the file Tally opened again: notices count again`,
      });
    },
  });
  return { problem: () => ledgerFileProblem, stopWatching: stopWatchingLedgerFile };
}
