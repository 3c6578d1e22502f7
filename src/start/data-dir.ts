import { accessSync, closeSync, constants, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errorCode } from '../lib/error-code.js';
import { makeDirectory } from '../lib/make-dir.js';

/** The data directory is no directory Tally can create or use; its message says what to change. */
export class DataDirError extends Error {
  constructor(dataDir: string, cause: unknown) {
    super(dataDirFailure(dataDir, errorCode(cause), String(cause)), { cause });
    this.name = 'DataDirError';
  }
}

/**
 * Creates the data directory (and its parents) unless it exists, and checks that this process may
 * write in it, by making a file there and removing it; throws a {@link DataDirError}.
 */
export function makeDataDir(dataDir: string): void {
  try {
    makeDirectory(dataDir);
    accessSync(dataDir, constants.W_OK | constants.X_OK);
    checkFileCreation(dataDir);
  } catch (error) {
    throw new DataDirError(dataDir, error);
  }
}

/**
 * Makes a file in `dataDir` and removes it, throwing the fs error of a directory that takes none:
 * `access()` lets root write anywhere on a file system mounted read-write, sysfs's and procfs's
 * directories included, which then refuse every new file; its lock file's would be the first
 * error, naming the file rather than the directory.
 */
function checkFileCreation(dataDir: string): void {
  const probe = join(dataDir, `.tally-write-check-${process.pid}`);
  // A new file only: one left by that name (a symlink planted in a directory others may write
  // in, say) is removed, never opened, so that no file it names is truncated.
  rmSync(probe, { force: true });
  closeSync(openSync(probe, 'wx', 0o600));
  rmSync(probe, { force: true });
}

function dataDirFailure(dataDir: string, code: string | undefined, detail: string): string {
  switch (code) {
    case 'EEXIST':
      return `the data directory ${dataDir} is a file, not a directory: set TALLY_DATA_DIR to a directory (Tally creates it if it does not exist)`;
    case 'ENOTDIR':
      return `the data directory ${dataDir} cannot be created: part of its path is a file, not a directory: set TALLY_DATA_DIR to a directory`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `this process may not create or write in the data directory ${dataDir}: set TALLY_DATA_DIR to a directory it may write, or give it that permission`;
    default:
      return `the data directory ${dataDir} cannot be created (${detail}): set TALLY_DATA_DIR to a directory this process may write`;
  }
}
