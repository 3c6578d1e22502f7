import { chmodSync, lstatSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The files Tally keeps in its data directory: the ledger, its write-ahead log and shared memory
 * (which SQLite makes with the ledger's permissions), the token keys, and the locks of the data
 * directory and of the key file.
 */
const DATA_FILES = [
  'tally.db',
  'tally.db-wal',
  'tally.db-shm',
  'token-keys.json',
  'tally.lock',
  'token-keys.lock',
];

/** The permission bits that let users other than the owner read or write a file. */
const OTHER_USERS_BITS = 0o077;

/** A data file (or the data directory) found open to other users, and what became of it. */
export type OpenDataFile =
  /** Made its owner's alone: `fromMode` and `toMode` are octal, `644` and `600`. */
  | { path: string; fromMode: string; toMode: string }
  /**
   * Left as it was, as this process may not change it (another user's file), or will not (a
   * symbolic link in a data file's place, whose target's `mode` this is): `error` says why.
   */
  | { path: string; mode: string; error: string };

/**
 * Makes the data directory and the data files in it that other users may read or write (a
 * `tally.db` restored by `cp` from a copy made under the usual umask, 022, is `644`; a directory
 * made by hand, `755`) readable and writable by their owner alone, as Tally makes them: they hold
 * API key hashes, devices' addresses and User-Agents, the DSPs' burls, and the keys that seal notice
 * tokens (whoever reads them can forge a notice); and another user who may write in the directory
 * may delete or replace any file in it, the key file or `tally.lock` included. Called before the
 * ledger is opened, so that the WAL and shared memory SQLite makes beside it take its permissions as
 * tightened. A symbolic link in a data file's place is never followed (see the loop). Answers the
 * directory, then each file, found open, and what became of it.
 */
export function makeDataFilesPrivate(dataDir: string): OpenDataFile[] {
  const found: OpenDataFile[] = [];
  for (const path of [dataDir, ...DATA_FILES.map((name) => join(dataDir, name))]) {
    // A link in a data file's place is not followed: planted by whoever could write in the
    // directory, it would have this process (root, say) change a file anywhere. The data
    // directory itself is the path the operator configured, a link or not.
    if (path !== dataDir && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
      const target = statSync(path, { throwIfNoEntry: false });
      if (target !== undefined && (target.mode & OTHER_USERS_BITS) !== 0) {
        const mode = (target.mode & 0o777).toString(8);
        const error = `a symbolic link to ${readlinkSync(path)}: Tally changes no file through a link`;
        found.push({ path, mode, error });
      }
      continue;
    }
    const stats = statSync(path, { throwIfNoEntry: false });
    const expected = path === dataDir ? stats?.isDirectory() : stats?.isFile();
    if (stats === undefined || expected !== true || (stats.mode & OTHER_USERS_BITS) === 0) continue;
    const mode = stats.mode & 0o777;
    const tightened = mode & ~OTHER_USERS_BITS;
    try {
      chmodSync(path, tightened);
      found.push({ path, fromMode: mode.toString(8), toMode: tightened.toString(8) });
    } catch (error) {
      found.push({ path, mode: mode.toString(8), error: String(error) });
    }
  }
  return found;
}
