import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { syncDirectory } from '../../lib/durable-file.js';

/**
 * Makes every commit of a WAL-mode connection with `synchronous=NORMAL` durable with one
 * `fdatasync` of the WAL file: the guarantee of `synchronous=FULL`, which SQLite gives with
 * `fsync` of the same file. `fsync` also writes the file's times, a journal commit that waits
 * for the kernel's journal thread, late when the cores are busy; `fdatasync` writes only the
 * data (and the size, where it grew). The file is opened at the first `sync`, once a commit
 * has created it.
 */
export class WalSync {
  private fd = -1;

  constructor(private readonly dbPath: string) {}

  /**
   * Returns once everything written to the WAL so far (every commit made) is on the disk.
   * Throws when the disk refuses: the caller must not acknowledge what it committed, and must
   * stop using the connection (the kernel may have dropped the pages it could not write).
   */
  sync(): void {
    if (this.fd < 0) {
      // The WAL's directory entry too, once (SQLite's FULL syncs the directory of a WAL it
      // created): a WAL whose name did not reach the disk would lose every commit in it.
      syncDirectory(dirname(this.dbPath));
      this.fd = openSync(`${this.dbPath}-wal`, 'r');
    }
    fdatasyncSync(this.fd);
  }

  /** Closes the WAL file (after the connection, which may delete it, is closed). */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
