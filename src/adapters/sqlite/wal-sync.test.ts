import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from './database.js';
import { WalSync } from './wal-sync.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-wal-sync-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the WAL sync', () => {
  it('syncs the very file the connection’s commits are written to: its WAL', () => {
    const path = join(dir, 'synced.db');
    const db = openSqlite(path, 'NORMAL');
    db.exec('CREATE TABLE t (x INTEGER)');
    db.prepare('INSERT INTO t VALUES (1)').run();
    const walSync = new WalSync(path);
    walSync.sync();
    const synced = fstatSync(walSync['fd']);
    const wal = statSync(`${path}-wal`);
    assert.deepEqual([synced.dev, synced.ino], [wal.dev, wal.ino]);
    assert.ok(wal.size > 0, 'the commit went to the WAL');
    walSync.sync();
    db.close();
    walSync.close();
  });

  it('throws rather than return when there is no WAL to sync, so nothing is acknowledged', () => {
    const walSync = new WalSync(join(dir, 'missing.db'));
    assert.throws(() => walSync.sync(), /ENOENT/);
  });

  it('throws when the sync itself fails, so that the commits are not acknowledged', () => {
    const path = join(dir, 'failing.db');
    const db = openSqlite(path, 'NORMAL');
    db.exec('CREATE TABLE t (x INTEGER)');
    const walSync = new WalSync(path);
    walSync.sync();
    // Fault injection: the WAL's descriptor goes bad under the sync (as a disk that refuses would fail it).
    closeSync(walSync['fd']);
    try {
      assert.throws(() => walSync.sync(), /EBADF/);
    } finally {
      walSync['fd'] = -1;
      db.close();
    }
  });

  it('closes the WAL file on close, once, however often it is closed', () => {
    const path = join(dir, 'closed.db');
    const db = openSqlite(path, 'NORMAL');
    db.exec('CREATE TABLE t (x INTEGER)');
    const walSync = new WalSync(path);
    walSync.sync();
    /** This process's descriptors open on the WAL. */
    const openOnWal = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${path}-wal`);
        } catch {
          return false;
        }
      }).length;
    assert.ok(openOnWal() >= 2, 'the sync and the connection both have the WAL open');
    db.close();
    walSync.close();
    assert.equal(openOnWal(), 0, 'the WAL is still open');
    walSync.close();
  });
});
