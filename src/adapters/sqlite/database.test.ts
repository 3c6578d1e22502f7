import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from './database.js';

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
});
