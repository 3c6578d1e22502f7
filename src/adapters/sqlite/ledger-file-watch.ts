import { statSync } from 'node:fs';

/** How often the server checks that `tally.db` at its path is the file it opened. */
export const LEDGER_FILE_CHECK_INTERVAL_MS = 1000;

/** What became of the ledger's file while the server runs. */
export interface LedgerFileWatch {
  /** The path no longer names the file opened: deleted, replaced, or moved away (`why` says which). */
  gone(why: string): void;
  /** It names it again (the directory moved back). */
  back(): void;
}

/**
 * Checks once a {@link LEDGER_FILE_CHECK_INTERVAL_MS} that `path` still names the file it named
 * when called (by device and inode). SQLite goes on committing into the file it opened whatever
 * happens to its name: deleted, its data lives only until the server stops; replaced or moved
 * away, no restart reads what it commits. Returns a function that stops checking.
 */
export function watchLedgerFile(path: string, watch: LedgerFileWatch): () => void {
  const opened = statSync(path);
  let missing = false;
  const check = () => {
    let why: string | undefined;
    try {
      const now = statSync(path);
      if (now.dev !== opened.dev || now.ino !== opened.ino)
        why = `${path} is no longer the file Tally opened: it was replaced`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
      why = `${path} is no longer the file Tally opened: it was deleted, or its directory moved away`;
    }
    if (why !== undefined && !missing) watch.gone(why);
    else if (why === undefined && missing) watch.back();
    missing = why !== undefined;
  };
  const timer = setInterval(check, LEDGER_FILE_CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
