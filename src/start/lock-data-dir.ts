import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE, lockDataDirWhenFree } from '../adapters/sqlite/data-dir-lock.js';
import type { DataDirLock } from '../adapters/sqlite/data-dir-lock.js';
import type { Logger } from '../lib/log.js';
import { throttledErrorLog } from '../lib/throttled-log.js';

/** The data directory, held by this process, and what holding it tells. */
export interface HeldDataDir {
  lock: DataDirLock;
  /** Whether a Tally served the directory before (its lock file was there before this one took it). */
  servedBefore: boolean;
  /** Settles, with why, once another Tally process took the directory: see `Tally.mustStop`. */
  mustStop: Promise<string>;
}

/**
 * Takes the data directory's lock, waiting for a command holding it for a moment (see
 * `LOCK_WAIT_MS`), and logs what becomes of its lock file while this process serves.
 */
export async function holdDataDir(dataDir: string, log: Logger): Promise<HeldDataDir> {
  const servedBefore = existsSync(join(dataDir, LOCK_FILE));
  let stopForLock: (why: string) => void = () => {};
  const logUnrestoredLock = throttledErrorLog(log, 'data_dir_lock_unrestored', 60_000);
  const mustStop = new Promise<string>((resolve) => (stopForLock = resolve));
  // A command holding the lock for a moment (see `LOCK_WAIT_MS`) is waited for.
  const lock = await lockDataDirWhenFree(dataDir, {
    restored: () =>
      log.warn('data_dir_lock_restored', { note: 'tally.lock was deleted or replaced: a new one is held' }),
    taken: (error) => {
      log.error('data_dir_taken', { error: error.message });
      stopForLock(error.message);
    },
    unrestored: (error) => logUnrestoredLock({ error: String(error) }),
  });
  return { lock, servedBefore, mustStop };
}
