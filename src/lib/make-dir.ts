import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Creates the directory at `path` and its missing parents, as `mkdirSync(path, {recursive:
 * true})` does, and accepts one that exists; throws the fs error of the first directory that
 * cannot be made (`EEXIST` when `path` is a file, `ENOTDIR` when part of it is, `EACCES`…).
 *
 * Each directory is tried at most twice: Node 20's recursive mkdir, answered ENOENT for a
 * directory whose parent exists (as `/proc` answers any new entry), makes the parent again and
 * retries forever, at full CPU.
 */
export function makeDirectory(path: string): void {
  const absolute = resolve(path);
  try {
    makeOne(absolute);
  } catch (error) {
    const parent = dirname(absolute);
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === absolute) throw error;
    makeDirectory(parent);
    makeOne(absolute);
  }
}

/** Makes one directory; one there already is made (by another process, perhaps, meanwhile). */
function makeOne(path: string): void {
  try {
    mkdirSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) return;
    throw error;
  }
}
