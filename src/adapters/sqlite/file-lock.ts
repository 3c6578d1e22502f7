import Database from 'better-sqlite3';
import { closeSync, constants, existsSync, fchownSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { asDatabaseFileError } from './database.js';
import { lockFileFailure } from './data-dir-lock.js';

/** Another process held a lock file past the wait for it (a process stalled holding it). */
export class FileLockBusyError extends Error {
  constructor(
    readonly path: string,
    readonly waitedMs: number,
  ) {
    super(`${path} was held by another process for longer than the ${waitedMs} ms waited for it`);
    this.name = 'FileLockBusyError';
  }
}

/**
 * Runs `run` while this process alone holds the lock file at `path`, and answers what it answers:
 * an exclusive SQLite lock on a file of its own (an OS file lock underneath, released by the OS
 * should the process die, so never stale), taken for the call alone. Waits up to `waitMs` for
 * another process holding it (SQLite's busy handler, blocking this thread), then throws a
 * {@link FileLockBusyError}. The file is made where missing, with the permissions `0600` and, for
 * root (`sudo tally …`), its directory's owner, so that the service's user may lock it after;
 * errors opening or making it are the file system's (`EACCES`…), for the caller to say what to do.
 */
export function withFileLock<T>(path: string, waitMs: number, run: () => T): T {
  makeLockFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: waitMs });
  } catch (error) {
    throw asDatabaseFileError(path, error);
  }
  try {
    try {
      // The journal in memory: the lock writes nothing, even where the disk is full.
      db.pragma('journal_mode = MEMORY');
      // EXCLUSIVE locks the file as the transaction begins, and holds it until it ends.
      db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      throw lockFileFailure(path, error, () => new FileLockBusyError(path, waitMs));
    }
    return run();
  } finally {
    // Closing ends the transaction, which wrote nothing, and so releases the lock.
    db.close();
  }
}

/**
 * Opens the lock file at `path` for reading and writing, making it where there is none (see
 * {@link withFileLock}), so that a file this process may not use fails here, with its code.
 */
function makeLockFile(path: string): void {
  const made = !existsSync(path);
  // O_NOFOLLOW: a symbolic link in its place (ELOOP) is refused, not followed: whoever may write in
  // the data directory could otherwise have this process make or open a file anywhere, and root
  // give one it made to the directory's owner.
  const fd = openSync(
    path,
    constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    if (made && process.getuid?.() === 0) {
      const { uid, gid } = statSync(dirname(path));
      fchownSync(fd, uid, gid);
    }
  } finally {
    closeSync(fd);
  }
}
