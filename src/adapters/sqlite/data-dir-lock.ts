import Database from 'better-sqlite3';
import { lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode } from '../../lib/error-code.js';
import { asDatabaseFileError } from './database.js';

/** A second Tally process was started on a data directory that one is already using. */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `another Tally process is using the data directory ${dataDir} (it holds ${join(dataDir, LOCK_FILE)} ` +
        'until it exits; deleting that file does not stop it, and two processes would count the same ' +
        'impressions twice): stop that process first, or give this one its own TALLY_DATA_DIR',
    );
    this.name = 'DataDirInUseError';
  }
}

/**
 * The data directory's lock file is not one Tally made (overwritten, damaged): it holds no data,
 * so the fix is to delete it, with no Tally running there.
 */
export class LockFileError extends Error {
  constructor(path: string, cause: Error) {
    super(
      `${path} is not a lock file Tally made (${cause instanceof Database.SqliteError ? 'SQLite: ' : ''}${cause.message}): it holds no data; with no Tally running on its data directory, delete it and start again`,
      { cause },
    );
    this.name = 'LockFileError';
  }
}

/**
 * What a data directory's lock file remembers of its ledger: `made` once a Tally made or opened
 * the ledger there; `not made` when none did (every process that held the lock file stopped before
 * that: a first start stopped or killed as it began); `unknown` for a lock file a Tally made before
 * lock files kept this, until a Tally opens the ledger there.
 */
export type LedgerMemory = 'made' | 'not made' | 'unknown';

/** The data directory, held for as long as this process serves it. */
export interface DataDirLock {
  /** Lets the next Tally process take the directory. */
  release(): void;
  /**
   * What the lock file remembers of the directory's ledger (see `rememberLedger`): with its token
   * keys configured, nothing else in the directory says that its tokens in flight were counted here,
   * and a key file beside no ledger may be one the operator put there for a first start.
   */
  ledgerMemory(): LedgerMemory;
  /** Records in the lock file that the directory's ledger is made, for every later start. */
  rememberLedger(): void;
}

/** What became of a lock file deleted or replaced while its holder runs. */
interface LockFileWatch {
  /** The lock file was gone or replaced, and this process holds a new one in its place. */
  restored(): void;
  /** Another process took the new lock file first: it serves the same ledger. */
  taken(error: Error): void;
  /** A new lock file could not be made (the directory moved away, unwritable): tried again. */
  unrestored(error: unknown): void;
}

/** The lock file's name in the data directory; it stays there once made. */
export const LOCK_FILE = 'tally.lock';

/** How often the holder checks that its lock file is still the one at its path. */
export const LOCK_CHECK_INTERVAL_MS = 1000;

/**
 * Takes `<dataDir>/tally.lock` for this process alone, or throws {@link DataDirInUseError}. The
 * live dedupe claims are indexed in each process's memory, so two processes recording into one
 * ledger could each count the same impression. The lock is an exclusive SQLite lock on a file
 * of its own (an OS file lock underneath), so a process that crashes releases it with no stale
 * file left to clean up. A lock file deleted (taken for a stale one) or replaced while its holder
 * runs would let a second process in: with `watch`, the holder checks its file once a
 * {@link LOCK_CHECK_INTERVAL_MS} and takes a new one in its place. Every lock taken is held until
 * `release()`: the first still guards the ledger where it is should the directory have been
 * moved and another made in its place.
 */
export function lockDataDir(dataDir: string, watch?: LockFileWatch): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const held = [takeLockFile(path, dataDir)];
  let remembered = false;
  const timer =
    watch === undefined
      ? undefined
      : setInterval(() => {
          try {
            const file = statSync(path, { throwIfNoEntry: false });
            const latest = held.at(-1);
            if (file !== undefined && file.ino === latest?.inode && file.dev === latest.device) return;
            const taken = takeLockFile(path, dataDir);
            held.push(taken);
            // The lock file made in place of a deleted one remembers the ledger as it did.
            if (remembered) rememberLedgerIn(taken.db);
            watch.restored();
          } catch (error) {
            if (!(error instanceof DataDirInUseError)) {
              watch.unrestored(error);
              return;
            }
            clearInterval(timer);
            watch.taken(error);
          }
        }, LOCK_CHECK_INTERVAL_MS);
  timer?.unref();
  return {
    release: () => {
      clearInterval(timer);
      for (const { db } of held) db.close();
    },
    ledgerMemory: () => {
      const latest = held.at(-1);
      if (latest === undefined || !latest.keepsLedgerMemory) return 'unknown';
      return latest.db.prepare('SELECT 1 FROM ledger_made').get() === undefined ? 'not made' : 'made';
    },
    rememberLedger: () => {
      const latest = held.at(-1);
      if (latest !== undefined) {
        try {
          rememberLedgerIn(latest.db);
        } catch (error) {
          // A full disk, say: said in one line, naming the lock file, as for the ledger.
          throw asDatabaseFileError(path, error);
        }
        latest.keepsLedgerMemory = true;
      }
      remembered = true;
    },
  };
}

/**
 * How long a starting server, or a command, waits for the data directory's lock another process
 * holds: a command (`create-account`, `replay-dead`…) meeting a ledger to migrate takes it for a
 * moment to see whether a Tally serves the directory, and a server starting then, or another
 * command, must not take it for a server's. A server that holds it holds it for good: a second one
 * is refused once this has passed, and a command told that a server runs.
 */
export const LOCK_WAIT_MS = 2000;

/** The longest wait between two tries of {@link lockDataDirWhenFree}. */
const LOCK_RETRY_MAX_DELAY_MS = 50;

/**
 * {@link lockDataDir}, tried again on a timer while another process holds the lock, up to
 * `waitMs`; the event loop runs meanwhile (the port held at start answers `/healthz`). Throws the
 * {@link DataDirInUseError} of the last try once `waitMs` has passed.
 */
export async function lockDataDirWhenFree(
  dataDir: string,
  watch?: LockFileWatch,
  waitMs = LOCK_WAIT_MS,
): Promise<DataDirLock> {
  const startedMs = performance.now();
  for (let delayMs = 2; ; delayMs = Math.min(delayMs * 2, LOCK_RETRY_MAX_DELAY_MS)) {
    try {
      return lockDataDir(dataDir, watch);
    } catch (error) {
      const waitedMs = performance.now() - startedMs;
      if (!(error instanceof DataDirInUseError) || waitedMs >= waitMs) throw error;
      await sleep(Math.min(delayMs, waitMs - waitedMs));
    }
  }
}

/**
 * For a command (`create-account`, `replay-dead`…): runs `look` holding the data directory's lock
 * for a moment, and answers what it answers; answers `undefined` when a Tally server holds the
 * lock. Another command's moment holding it is waited for as a starting server waits for one
 * ({@link lockDataDirWhenFree}, up to `waitMs`), rather than taken for a server's: a server holds
 * it for good, so it is still held once the wait has passed.
 */
export async function lookUnlessServed<T>(
  dataDir: string,
  look: (lock: DataDirLock) => T,
  waitMs = LOCK_WAIT_MS,
): Promise<T | undefined> {
  let lock: DataDirLock;
  try {
    lock = await lockDataDirWhenFree(dataDir, undefined, waitMs);
  } catch (error) {
    if (error instanceof DataDirInUseError) return undefined;
    throw error;
  }
  try {
    return look(lock);
  } finally {
    lock.release();
  }
}

/**
 * Records in the held lock file `db` that the data directory's ledger is made; in a lock file made
 * before lock files kept this, its table is made then, with the record.
 */
function rememberLedgerIn(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS ledger_made (made_ms INTEGER)');
    db.prepare('INSERT INTO ledger_made (made_ms) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM ledger_made)').run(
      Date.now(),
    );
  })();
}

/** A lock file this process holds. */
interface HeldLockFile {
  db: Database.Database;
  inode: number;
  device: number;
  /** Whether it has the `ledger_made` table (see `LedgerMemory`). */
  keepsLedgerMemory: boolean;
}

/** Creates (or opens) the lock file and takes its exclusive lock. */
function takeLockFile(path: string, dataDir: string): HeldLockFile {
  // SQLite follows a symbolic link to a database, making its target where there is none: one
  // planted in the data directory would have this process (root, for `tally create-account`) make
  // or change a file anywhere. Tally makes its lock file itself; a link in its place is refused.
  if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
    throw new LockFileError(path, new Error('a symbolic link, which Tally does not follow'));
  }
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 0 });
  } catch (error) {
    // Another user's lock file, say: said in one line, naming it.
    throw asDatabaseFileError(path, error);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; in this locking mode it is kept until close.
    db.exec('BEGIN EXCLUSIVE');
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('held', 'ledger_made')`)
      .pluck()
      .all();
    // A new lock file remembers its ledger from the start: until a Tally records it, none was made.
    // One made before lock files kept this (`held` alone) may be beside a ledger a Tally made: its
    // `ledger_made` is made only as a Tally records the ledger (see `rememberLedgerIn`).
    const made = tables.length === 0;
    if (made) db.exec('CREATE TABLE held (since_ms INTEGER); CREATE TABLE ledger_made (made_ms INTEGER)');
    db.exec('COMMIT');
    const { ino, dev } = statSync(path);
    return { db, inode: ino, device: dev, keepsLedgerMemory: made || tables.includes('ledger_made') };
  } catch (error) {
    db.close();
    throw lockFileFailure(path, error, () => new DataDirInUseError(dataDir));
  }
}

/**
 * What taking the lock file at `path` failed for, as thrown: `busy()` where another process holds
 * it, a {@link LockFileError} where the file is no lock file Tally made, else the file system's
 * error (see `asDatabaseFileError`).
 */
export function lockFileFailure(path: string, error: unknown, busy: () => Error): unknown {
  const code = errorCode(error) ?? '';
  if (code === 'SQLITE_BUSY') return busy();
  if (/^SQLITE_(NOTADB|CORRUPT)/.test(code)) return new LockFileError(path, error as Error);
  return asDatabaseFileError(path, error);
}
