import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces the file at `path` with `data` so that a crash, a power loss or a full disk at any
 * moment leaves either the old file whole or the new one whole, never a truncated mix: the data
 * goes to a temporary file beside it, is synced, renamed over `path`, and the directory is synced
 * so that the rename itself is on the disk. The new file has the permissions `mode`.
 */
export function replaceFileDurably(path: string, data: string, mode: number): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', mode);
  try {
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
  renameSync(temporary, path);
  syncDirectory(dirname(path));
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
