import Database from 'better-sqlite3';
import { join } from 'node:path';

/** A second Tally process was started on a data directory that one is already using. */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `another Tally process is using the data directory ${dataDir} (it holds ${join(dataDir, 'tally.lock')}): ` +
        'stop that process first, or give this one its own TALLY_DATA_DIR',
    );
    this.name = 'DataDirInUseError';
  }
}

/** The data directory, held for as long as this process serves it. */
export interface DataDirLock {
  /** Lets the next Tally process take the directory. */
  release(): void;
}

/**
 * Takes `<dataDir>/tally.lock` for this process alone, or throws {@link DataDirInUseError}. The
 * live dedupe claims are indexed in each process's memory, so two processes recording into one
 * ledger could each count the same impression. The lock is an exclusive SQLite lock on a file
 * of its own (an OS file lock underneath), so a process that crashes releases it with no stale
 * file left to clean up.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const db = new Database(join(dataDir, 'tally.lock'), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; in this locking mode it is kept until close.
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (since_ms INTEGER); COMMIT');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir);
    throw error;
  }
  return { release: () => db.close() };
}
