import assert from 'node:assert/strict';
import { runBoundedScript } from '../../../test/support/bounded-script.js';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { migrateAsNewerTally } from '../../../test/support/newer-schema.js';
import { migrateAsOlderTally } from '../../../test/support/older-schema.js';
import Database from 'better-sqlite3';
import { DatabaseFileError, mayNeedMigrating, openSqlite, SchemaTooNewError } from './database.js';
import { SQLITE_MIGRATIONS } from './migrations.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-database-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** SQLite's `synchronous` values. */
const NORMAL = 1;
const FULL = 2;

describe('opening the SQLite database', () => {
  it('syncs every commit to the disk (FULL) unless asked for NORMAL, in WAL mode', () => {
    const byDefault = openSqlite(join(dir, 'default.db'));
    assert.equal(byDefault.pragma('synchronous', { simple: true }), FULL);
    assert.equal(byDefault.pragma('journal_mode', { simple: true }), 'wal');
    byDefault.close();
    const normal = openSqlite(join(dir, 'normal.db'), 'NORMAL');
    assert.equal(normal.pragma('synchronous', { simple: true }), NORMAL);
    normal.close();
  });

  it('limits the WAL to 64 MiB, which SQLite cuts a larger one back to once a checkpoint restarts it', () => {
    const db = openSqlite(join(dir, 'limited.db'));
    assert.equal(db.pragma('journal_size_limit', { simple: true }), 64 * 1024 * 1024);
    db.close();
  });

  it('creates the directories the database goes in, and applies every migration to a new database', () => {
    const path = join(dir, 'new', 'nested', 'tally.db');
    const db = openSqlite(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  it('creates neither the database nor its directory for a thread that opens the one the server opened', () => {
    const moved = join(dir, 'moved-away');
    assert.throws(() => openSqlite(join(moved, 'tally.db'), 'NORMAL', { create: false }), DatabaseFileError);
    assert.equal(existsSync(moved), false, 'no directory made in place of the one moved away');
    mkdirSync(moved);
    assert.throws(() => openSqlite(join(moved, 'tally.db'), 'NORMAL', { create: false }), DatabaseFileError);
    assert.equal(existsSync(join(moved, 'tally.db')), false, 'no new, empty ledger');
    openSqlite(join(moved, 'tally.db')).close();
    openSqlite(join(moved, 'tally.db'), 'NORMAL', { create: false }).close();
  });

  it('enforces foreign keys', () => {
    const db = openSqlite(join(dir, 'foreign-keys.db'));
    try {
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      db.exec(
        'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (parent INTEGER REFERENCES parent(id))',
      );
      assert.throws(() => db.prepare('INSERT INTO child VALUES (42)').run(), /FOREIGN KEY constraint failed/);
    } finally {
      db.close();
    }
  });

  it('closes the database it refuses as migrated by a newer Tally, leaving no connection open on it', () => {
    const path = join(dir, 'newer.db');
    migrateAsNewerTally(path);
    assert.throws(() => openSqlite(path), SchemaTooNewError);
    // The last connection to close removes the WAL: one left open would keep it.
    assert.ok(!existsSync(`${path}-wal`), 'a connection to the refused database is still open');
  });

  /** A migrated database's bytes, to damage. */
  const database = (): Buffer => {
    const path = join(mkdtempSync(join(dir, 'whole-')), 'tally.db');
    openSqlite(path).close();
    return readFileSync(path);
  };
  const damaged: [string, () => Buffer][] = [
    ['random bytes', () => randomBytes(8192)],
    ['a line of text', () => Buffer.from('garbage\n')],
    ['a database cut short by 4 KiB', () => database().subarray(0, -4096)],
    ['a database cut to its first 100 bytes', () => database().subarray(0, 100)],
    [
      'a database whose first page is overwritten after its header',
      () => {
        const bytes = database();
        randomBytes(3000).copy(bytes, 100);
        return bytes;
      },
    ],
  ];
  for (const [kind, bytes] of damaged) {
    it(`refuses ${kind} as damaged, saying to restore the file from a backup, and leaves it as it was`, () => {
      const path = join(mkdtempSync(join(dir, 'damaged-')), 'tally.db');
      const contents = bytes();
      writeFileSync(path, contents);
      assert.throws(
        () => openSqlite(path),
        (error: unknown) =>
          error instanceof DatabaseFileError &&
          error.path === path &&
          error.message.startsWith(`${path} is damaged or is not a SQLite database (SQLite: `) &&
          error.message.includes('restore it from a backup') &&
          !error.message.includes('\n'),
      );
      assert.deepEqual(readFileSync(path), contents);
      assert.ok(!existsSync(`${path}-wal`), 'a WAL was written beside it');
    });
  }

  it('refuses a directory where the database file goes, in one line saying to move it away', () => {
    const path = join(mkdtempSync(join(dir, 'directory-')), 'tally.db');
    mkdirSync(path);
    assert.throws(
      () => openSqlite(path),
      (error: unknown) =>
        error instanceof DatabaseFileError &&
        error.message.startsWith(`${path} cannot be opened (SQLite: unable to open database file): `) &&
        error.message.includes('move away a directory') &&
        !error.message.includes('\n'),
    );
  });

  it('says in one line what to do when the database cannot be written: a full disk, a read-only volume, a failing disk', () => {
    const path = '/var/lib/tally/tally.db';
    const messageOf = (message: string, code: string) =>
      new DatabaseFileError(path, new Database.SqliteError(message, code)).message;
    assert.equal(
      messageOf('database or disk is full', 'SQLITE_FULL'),
      `${path} cannot be written: its disk is full (SQLite: database or disk is full); free space on it and start again`,
    );
    assert.match(
      messageOf('attempt to write a readonly database', 'SQLITE_READONLY'),
      /^\/var\/lib\/tally\/tally\.db cannot be written by this process .*: run Tally as the user owning the data directory/,
    );
    assert.match(
      messageOf('disk I/O error', 'SQLITE_IOERR_WRITE'),
      /^\/var\/lib\/tally\/tally\.db cannot be read or written: the disk failed \(SQLite: disk I\/O error, SQLITE_IOERR_WRITE\)/,
    );
  });

  it('says the disk is full, not that it failed, when an I/O error comes from a volume with no free space', () => {
    // A full disk fails the growth of tally.db-shm as an I/O error (SQLITE_IOERR_SHMSIZE), not
    // SQLITE_FULL: a start on a full disk ends so. /proc is a real file system with no space free.
    const error = new DatabaseFileError(
      '/proc/tally.db',
      new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_SHMSIZE'),
    );
    assert.equal(
      error.message,
      '/proc/tally.db cannot be written: its disk is full (0 bytes free; SQLite: disk I/O error, SQLITE_IOERR_SHMSIZE); free space on it and start again',
    );
    const roomy = new DatabaseFileError(
      join(dir, 'tally.db'),
      new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_SHMSIZE'),
    );
    assert.match(roomy.message, /cannot be read or written: the disk failed \(SQLite: disk I\/O error/);
  });

  it('refuses at open, in one line, a ledger this process may read but not write, rather than serve and fail every commit', () => {
    const dataDir = mkdtempSync(join(dir, 'read-only-'));
    const path = join(dataDir, 'tally.db');
    openSqlite(path).close();
    chmodSync(path, 0o444);
    chmodSync(dataDir, 0o777);
    chmodSync(dir, 0o777);
    // Root writes any file: as root, the open is tried by the unprivileged user `nobody`.
    const script = `import { openSqlite } from ${JSON.stringify(new URL('./database.ts', import.meta.url).href)};
      try { openSqlite(${JSON.stringify(path)}).close(); console.log('opened'); }
      catch (error) { console.log(error.name + ': ' + error.message); }`;
    const opened = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      ...(process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}),
    });
    assert.equal(opened.status, 0, opened.stderr);
    assert.match(
      opened.stdout,
      /^DatabaseFileError: \S+tally\.db cannot be written by this process \(SQLite: attempt to write a readonly database\): run Tally as the user owning the data directory/,
    );
    assert.equal(opened.stdout.trim().split('\n').length, 1);
  });

  it('makes an empty file a new database, as SQLite reads it (a first start stopped before it wrote)', () => {
    const path = join(mkdtempSync(join(dir, 'empty-')), 'tally.db');
    writeFileSync(path, '');
    const db = openSqlite(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
    } finally {
      db.close();
    }
    assert.notEqual(statSync(path).size, 0, 'the database file holds its pages');
  });

  it('throws the ENOENT of a directory /proc will not make at once, rather than retry forever', () => {
    // In a child process, killed after 30 s: the endless retry is one synchronous call.
    const module = new URL('./database.ts', import.meta.url).href;
    const script =
      `import { openSqlite } from ${JSON.stringify(module)};\n` +
      `try { openSqlite('/proc/tally-x/tally.db'); console.log('opened'); }\n` +
      `catch (error) { console.log(error.code); }\n`;
    const child = runBoundedScript(script);
    assert.equal(child.signal, null, `still making the directory after 30 s: ${child.stderr}`);
    assert.equal(child.stdout, 'ENOENT\n', child.stderr);
  });
});

describe('whether a ledger may need migrating', () => {
  it('says no only of a ledger at this Tally’s schema, and yes of one missing, older or unreadable, writing nothing', () => {
    const current = join(dir, 'current.db');
    openSqlite(current).close();
    const older = join(dir, 'older.db');
    migrateAsOlderTally(older, SQLITE_MIGRATIONS.length - 1);
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, randomBytes(4096));
    const missing = join(dir, 'missing.db');
    assert.deepEqual(
      [current, older, garbage, missing].map((path) => mayNeedMigrating(path)),
      [false, true, true, true],
    );
    assert.equal(existsSync(missing), false, 'a missing ledger is not created');
  });
});
