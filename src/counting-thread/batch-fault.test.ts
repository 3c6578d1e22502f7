import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isBatchFault } from './batch-fault.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-batch-fault-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What `run` throws. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  assert.fail('nothing was thrown');
}

describe('telling a batch at fault from a database at fault', () => {
  it('blames the batch for a row its table refuses or a value SQLite cannot bind', () => {
    const db = new Database(join(dir, 'rows.db'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, n INTEGER)');
    const insert = db.prepare('INSERT INTO t (id, at, n) VALUES (?, ?, ?)');
    insert.run(1, 1, 1);
    assert.equal(isBatchFault(thrown(() => insert.run(2, null, 1))), true, 'NOT NULL');
    assert.equal(isBatchFault(thrown(() => insert.run(1, 1, 1))), true, 'PRIMARY KEY');
    assert.equal(isBatchFault(thrown(() => insert.run(3, 1, { n: 1 }))), true, 'an object bound');
    assert.equal(isBatchFault(thrown(() => insert.run(4, 1))), true, 'a value missing');
    db.close();
  });

  it('blames the database, not the batch, for a write lock another connection holds', () => {
    const path = join(dir, 'locked.db');
    const holder = new Database(path);
    holder.pragma('journal_mode = WAL');
    holder.exec('CREATE TABLE t (n INTEGER)');
    const writer = new Database(path, { timeout: 0 });
    holder.exec('BEGIN IMMEDIATE');
    const busy = thrown(() => writer.exec('BEGIN IMMEDIATE'));
    assert.equal((busy as { code?: string }).code, 'SQLITE_BUSY');
    assert.equal(isBatchFault(busy), false);
    holder.exec('COMMIT');
    writer.close();
    holder.close();
  });
});
