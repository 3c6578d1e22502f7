import { statSync } from 'node:fs';
import type { Stats } from 'node:fs';

/** How often the server checks that `tally.db` and its WAL at their paths are the files it opened. */
export const LEDGER_FILE_CHECK_INTERVAL_MS = 1000;

/** What became of the ledger's files while the server runs. */
interface LedgerFileWatch {
  /** A path no longer names the file opened: deleted, replaced, or moved away (`why` says which). */
  gone(why: string): void;
  /** They name them again (the directory moved back). */
  back(): void;
}

/**
 * Checks once a {@link LEDGER_FILE_CHECK_INTERVAL_MS} that `path`, and its write-ahead log
 * `<path>-wal` and shared-memory index `<path>-shm` if they are there when called, still name the
 * files they named then (by device and inode). SQLite goes on committing into the files it opened
 * whatever happens to their names: `tally.db` deleted, its data lives only until the server stops;
 * replaced or moved away, no restart reads what it commits; the WAL deleted, what was committed
 * since its last checkpoint is lost if the server crashes (a clean stop still checkpoints it into
 * `tally.db`); the index deleted or replaced, a connection opened after it (a new counting thread,
 * a CLI command) reads the WAL without the server's connections and writes its commits over
 * theirs, or they over its. Returns a function that stops checking.
 */
export function watchLedgerFile(path: string, watch: LedgerFileWatch): () => void {
  const opened: [string, Stats][] = [[path, statSync(path)]];
  for (const companion of [`${path}-wal`, `${path}-shm`]) {
    const stats = statSync(companion, { throwIfNoEntry: false });
    if (stats !== undefined) opened.push([companion, stats]);
  }
  let missing = false;
  const check = () => {
    let why: string | undefined;
    for (const [file, stats] of opened) {
      try {
        const now = statSync(file);
        if (now.dev !== stats.dev || now.ino !== stats.ino)
          why = `${file} is no longer the file Tally opened: it was replaced`;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
        why = `${file} is no longer the file Tally opened: it was deleted, or its directory moved away`;
      }
      if (why !== undefined) break;
    }
    if (why !== undefined && !missing) watch.gone(why);
    else if (why === undefined && missing) watch.back();
    missing = why !== undefined;
  };
  const timer = setInterval(check, LEDGER_FILE_CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
