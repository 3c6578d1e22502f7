import { closeSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces the file at `path` with `data` so that a crash, a power loss or a full disk at any
 * moment leaves either the old file whole or the new one whole, never a truncated mix: the data
 * goes to a temporary file beside it, is synced, renamed over `path`, and the directory is synced
 * so that the rename itself is on the disk. The new file has the permissions `mode`, and the old
 * one's owner (its directory's, where there was none): a command run by root (`sudo tally
 * rotate-token-key`) must not leave the service's user a file it cannot read.
 */
export function replaceFileDurably(path: string, data: string, mode: number): void {
  const temporary = writeTemporaryBeside(path, data, mode);
  renameSync(temporary, path);
  syncDirectory(dirname(path));
}

/**
 * Writes `data` into a new temporary file beside `path`, synced, with the permissions `mode` and
 * the owner of the file at `path` (its directory's, where there is none), and answers its path.
 */
function writeTemporaryBeside(path: string, data: string, mode: number): string {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const owner = ownerOf(path) ?? ownerOf(dirname(path));
  // Made anew ('wx': O_EXCL, which follows no symbolic link): its name is known to whoever may
  // write in the directory, and a link planted there would have root write (and give the service's
  // user) a file anywhere. A file left there by a process of the same id that died is removed.
  rmSync(temporary, { force: true });
  const fd = openSync(temporary, 'wx', mode);
  try {
    if (owner !== undefined && process.getuid?.() === 0) fchownSync(fd, owner.uid, owner.gid);
    const bytes = Buffer.from(data);
    for (let written = 0; written < bytes.length;) {
      written += writeSync(fd, bytes, written, bytes.length - written);
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  return temporary;
}

/** The owner of the file at `path`, or `undefined` when there is none. */
function ownerOf(path: string): { uid: number; gid: number } | undefined {
  try {
    const { uid, gid } = statSync(path);
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Makes the directory's entries (a file created, renamed or deleted in it) durable. */
export function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
