import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';

/** A second Tally process was started on a data directory that one is already using. */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `another Tally process is using the data directory ${dataDir} (it holds ${join(dataDir, 'tally.lock')} ` +
        'until it exits; deleting that file does not stop it, and two processes would count the same ' +
        'impressions twice): stop that process first, or give this one its own TALLY_DATA_DIR',
    );
    this.name = 'DataDirInUseError';
  }
}

/** The data directory, held for as long as this process serves it. */
export interface DataDirLock {
  /** Lets the next Tally process take the directory. */
  release(): void;
}

/** What became of a lock file deleted or replaced while its holder runs. */
export interface LockFileWatch {
  /** The lock file was gone or replaced, and this process holds a new one in its place. */
  restored(): void;
  /** Another process took the new lock file first: it serves the same ledger. */
  taken(error: Error): void;
}

/** How often the holder checks that its lock file is still the one at its path. */
export const LOCK_CHECK_INTERVAL_MS = 1000;

/**
 * Takes `<dataDir>/tally.lock` for this process alone, or throws {@link DataDirInUseError}. The
 * live dedupe claims are indexed in each process's memory, so two processes recording into one
 * ledger could each count the same impression. The lock is an exclusive SQLite lock on a file
 * of its own (an OS file lock underneath), so a process that crashes releases it with no stale
 * file left to clean up. A lock file deleted (taken for a stale one) or replaced while its holder
 * runs would let a second process in: with `watch`, the holder checks its file once a
 * {@link LOCK_CHECK_INTERVAL_MS} and takes a new one in its place.
 */
export function lockDataDir(dataDir: string, watch?: LockFileWatch): DataDirLock {
  const path = join(dataDir, 'tally.lock');
  let held = takeLockFile(path, dataDir);
  const timer =
    watch === undefined
      ? undefined
      : setInterval(() => {
          try {
            if (statSync(path, { throwIfNoEntry: false })?.ino === held.inode) return;
            const next = takeLockFile(path, dataDir);
            held.db.close();
            held = next;
            watch.restored();
          } catch (error) {
            // A data directory moved away, unmounted or unreadable is checked again at the next interval.
            if (!(error instanceof DataDirInUseError)) return;
            clearInterval(timer);
            watch.taken(error);
          }
        }, LOCK_CHECK_INTERVAL_MS);
  timer?.unref();
  return {
    release: () => {
      clearInterval(timer);
      held.db.close();
    },
  };
}

/** Creates (or opens) the lock file and takes its exclusive lock. */
function takeLockFile(path: string, dataDir: string): { db: Database.Database; inode: number } {
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; in this locking mode it is kept until close.
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (since_ms INTEGER); COMMIT');
    return { db, inode: statSync(path).ino };
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir);
    throw error;
  }
}
