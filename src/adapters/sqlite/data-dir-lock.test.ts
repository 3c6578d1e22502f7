import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  existsSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DataDirInUseError,
  LOCK_CHECK_INTERVAL_MS,
  lockDataDir,
  lockDataDirWhenFree,
  LockFileError,
} from './data-dir-lock.js';
import { DatabaseFileError } from './database.js';

/** Resolves once `condition` holds, checking every 20 ms; rejects after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 5 * LOCK_CHECK_INTERVAL_MS): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tally-data-dir-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the data directory lock', () => {
  it('refuses the directory to a second holder while the first holds it, naming it, and lets it go on release', () => {
    const first = lockDataDir(dir);
    try {
      assert.throws(
        () => lockDataDir(dir),
        (error: unknown) =>
          error instanceof DataDirInUseError &&
          error.dataDir === dir &&
          error.message.includes(join(dir, 'tally.lock')),
      );
      // Refused again: a refusal does not take the lock from its holder.
      assert.throws(() => lockDataDir(dir), DataDirInUseError);
    } finally {
      first.release();
    }
    const next = lockDataDir(dir);
    next.release();
  });

  it('waits for a lock held a moment and takes it once let go, but refuses one still held when the wait is over', async () => {
    const waitDir = mkdtempSync(join(dir, 'wait-'));
    const moment = lockDataDir(waitDir);
    setTimeout(() => moment.release(), 100);
    const taken = await lockDataDirWhenFree(waitDir, undefined, 5000);
    try {
      await assert.rejects(lockDataDirWhenFree(waitDir, undefined, 200), DataDirInUseError);
    } finally {
      taken.release();
    }
  });

  it('remembers a ledger made in the directory across holders, and in a lock file made in place of a deleted one', async () => {
    const remembering = mkdtempSync(join(dir, 'remembering-'));
    const first = lockDataDir(remembering);
    assert.equal(first.ledgerMemory(), 'not made');
    first.rememberLedger();
    first.release();
    const second = lockDataDir(remembering, { restored: () => {}, taken: () => {}, unrestored: () => {} });
    try {
      assert.equal(second.ledgerMemory(), 'made');
      second.rememberLedger();
      unlinkSync(join(remembering, 'tally.lock'));
      await until(() => readdirSync(remembering).includes('tally.lock'));
    } finally {
      second.release();
    }
    const third = lockDataDir(remembering);
    try {
      assert.equal(third.ledgerMemory(), 'made');
    } finally {
      third.release();
    }
  });

  it('says in one line, naming tally.lock, that its disk is full when the lock file cannot record the ledger', (t) => {
    const full = mkdtempSync(join(dir, 'full-'));
    const lock = lockDataDir(full);
    try {
      // The fault: the disk fills up as the lock file records the ledger.
      t.mock.method(Database.prototype, 'transaction', () => () => {
        throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      });
      assert.throws(
        () => lock.rememberLedger(),
        (error: unknown) =>
          error instanceof DatabaseFileError &&
          error.message.startsWith(`${join(full, 'tally.lock')} cannot be written: its disk is full`),
      );
    } finally {
      t.mock.restoreAll();
      lock.release();
    }
  });

  it('knows nothing of the ledger of a lock file made before lock files remembered it, until a Tally records the ledger in it', () => {
    const older = mkdtempSync(join(dir, 'older-'));
    // A lock file as Tally made it before: its one table, no memory of the ledger beside it.
    const made = new Database(join(older, 'tally.lock'));
    made.exec('CREATE TABLE held (since_ms INTEGER)');
    made.close();
    const first = lockDataDir(older);
    try {
      assert.equal(first.ledgerMemory(), 'unknown');
      first.rememberLedger();
      assert.equal(first.ledgerMemory(), 'made');
    } finally {
      first.release();
    }
    const second = lockDataDir(older);
    try {
      assert.equal(second.ledgerMemory(), 'made');
    } finally {
      second.release();
    }
  });

  it('reports a lock file it cannot use as that error, not as a directory in use by another process', () => {
    const damaged = mkdtempSync(join(dir, 'damaged-'));
    writeFileSync(join(damaged, 'tally.lock'), 'x'.repeat(4096));
    assert.throws(
      () => lockDataDir(damaged),
      (error: unknown) => !(error instanceof DataDirInUseError) && /not a database/.test(String(error)),
    );
  });

  it('refuses a symbolic link in place of tally.lock, as no lock file Tally made, making no file where it points', () => {
    const linked = mkdtempSync(join(dir, 'linked-'));
    const target = join(mkdtempSync(join(dir, 'outside-')), 'made-by-the-lock');
    symlinkSync(target, join(linked, 'tally.lock'));
    assert.throws(
      () => lockDataDir(linked),
      (error: unknown) => error instanceof LockFileError,
    );
    assert.equal(existsSync(target), false);
  });

  it('keeps no file open for the attempts it refuses', () => {
    const lockFile = join(dir, 'tally.lock');
    /** This process's descriptors open on the lock file. */
    const openOnLock = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === lockFile;
        } catch {
          return false;
        }
      }).length;
    const first = lockDataDir(dir);
    try {
      for (let attempt = 0; attempt < 3; attempt++) assert.throws(() => lockDataDir(dir), DataDirInUseError);
    } finally {
      first.release();
    }
    // SQLite closes a refused connection's file once the holder's locks are gone.
    assert.equal(openOnLock(), 0, 'the lock file is still open');
  });

  it('takes a new lock file in place of one deleted while it holds the directory, which a second holder is then refused', async () => {
    const held = mkdtempSync(join(dir, 'deleted-'));
    const events: string[] = [];
    const first = lockDataDir(held, {
      restored: () => events.push('restored'),
      taken: () => events.push('taken'),
      unrestored: () => events.push('unrestored'),
    });
    try {
      unlinkSync(join(held, 'tally.lock'));
      await until(() => events.length > 0);
      assert.deepEqual(events, ['restored']);
      assert.throws(() => lockDataDir(held), DataDirInUseError);
    } finally {
      first.release();
    }
  });

  it('says its directory was taken when another holder locked a new lock file first', async () => {
    const held = mkdtempSync(join(dir, 'taken-'));
    const taken: Error[] = [];
    const first = lockDataDir(held, {
      restored: () => assert.fail('restored'),
      taken: (error) => taken.push(error),
      unrestored: () => assert.fail('unrestored'),
    });
    unlinkSync(join(held, 'tally.lock'));
    const second = lockDataDir(held);
    try {
      await until(() => taken.length > 0);
      assert.ok(
        taken[0] instanceof DataDirInUseError,
        `taken with a DataDirInUseError; got ${String(taken[0])}`,
      );
      assert.match(taken[0].message, /deleting that file does not stop it/);
      // Said once: the holder stops checking.
      await new Promise((resolve) => setTimeout(resolve, 2 * LOCK_CHECK_INTERVAL_MS));
      assert.equal(taken.length, 1);
    } finally {
      second.release();
      first.release();
    }
  });

  it('keeps the directory it held locked when it was moved away and another made in its place', async () => {
    const original = mkdtempSync(join(dir, 'moved-'));
    const moved = `${original}-away`;
    const events: string[] = [];
    const first = lockDataDir(original, {
      restored: () => events.push('restored'),
      taken: () => events.push('taken'),
      unrestored: () => events.push('unrestored'),
    });
    try {
      renameSync(original, moved);
      await until(() => events.includes('unrestored'));
      mkdirSync(original);
      await until(() => events.includes('restored'));
      // Both: the new directory, and the one moved away, whose ledger this holder still has open.
      assert.throws(() => lockDataDir(original), DataDirInUseError);
      assert.throws(() => lockDataDir(moved), DataDirInUseError);
    } finally {
      first.release();
    }
    lockDataDir(moved).release();
  });
});
