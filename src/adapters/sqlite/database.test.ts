import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { migrateAsNewerTally } from '../../../test/support/newer-schema.js';
import { openSqlite, SchemaTooNewError } from './database.js';
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

  it('creates the directories the database goes in, and applies every migration to a new database', () => {
    const path = join(dir, 'new', 'nested', 'tally.db');
    const db = openSqlite(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
    } finally {
      db.close();
    }
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
});
