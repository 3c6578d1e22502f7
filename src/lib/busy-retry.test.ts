import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { retryWhileBusy } from './busy-retry.js';

describe('retryWhileBusy', () => {
  let dir: string;
  /** The connection that writes, refusing at once (busy timeout 0) when the lock is held. */
  let writer: Database.Database;
  /** Another connection on the same file, holding the write lock when a test says so. */
  let holder: Database.Database;
  let tries: number;
  /** One try of a write: a row inserted in a transaction begun IMMEDIATE, as Tally's are. */
  const insert = (value: string) => () => {
    tries++;
    return writer
      .transaction(() => writer.prepare('INSERT INTO t (value) VALUES (?)').run(value).changes)
      .immediate();
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tally-busy-retry-'));
    writer = new Database(join(dir, 'test.db'));
    writer.pragma('journal_mode = WAL');
    writer.pragma('busy_timeout = 0');
    writer.exec('CREATE TABLE t (value TEXT PRIMARY KEY)');
    holder = new Database(join(dir, 'test.db'));
    tries = 0;
  });

  afterEach(() => {
    writer.close();
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tries again on timers while another connection holds the write lock, the event loop running meanwhile, and writes once it is released', async () => {
    holder.exec('BEGIN IMMEDIATE');
    // When the lock was released, read then: a timer may fire sooner than its delay after it was
    // set, counted from the event loop's last reading of the clock.
    let releasedMs = Number.POSITIVE_INFINITY;
    setTimeout(() => {
      holder.exec('ROLLBACK');
      releasedMs = performance.now();
    }, 150);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const startedMs = performance.now();
    const changes = await retryWhileBusy(insert('after the lock'));
    const writtenMs = performance.now();
    const elapsedMs = writtenMs - startedMs;
    clearInterval(ticker);
    assert.equal(changes, 1);
    assert.deepEqual(writer.prepare('SELECT value FROM t').pluck().all(), ['after the lock']);
    assert.equal(
      writtenMs >= releasedMs && writtenMs - releasedMs < 1000,
      true,
      `written ${(writtenMs - releasedMs).toFixed(0)} ms after the lock was released`,
    );
    assert.equal(tries > 3, true, `${tries} tries`);
    assert.equal(ticks >= 5, true, `the event loop ticked ${ticks} times in ${elapsedMs.toFixed(0)} ms`);
  });

  it('throws SQLite’s SQLITE_BUSY once the lock stays held past the limit', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const startedMs = performance.now();
    await assert.rejects(retryWhileBusy(insert('never'), { limitMs: 200 }), (error: any) => {
      assert.equal(error instanceof Database.SqliteError, true);
      assert.equal(error.code, 'SQLITE_BUSY');
      return true;
    });
    const elapsedMs = performance.now() - startedMs;
    holder.exec('ROLLBACK');
    assert.equal(elapsedMs >= 200 && elapsedMs < 600, true, `gave up after ${elapsedMs.toFixed(0)} ms`);
    assert.equal(tries > 3, true, `${tries} tries`);
    assert.deepEqual(writer.prepare('SELECT value FROM t').pluck().all(), []);
  });

  it('answers at the first try when the lock is free', async () => {
    assert.equal(await retryWhileBusy(insert('free')), 1);
    assert.equal(tries, 1);
  });

  it('never tries again after another error: a constraint refused, or an error of the caller', async () => {
    await retryWhileBusy(insert('taken'));
    tries = 0;
    await assert.rejects(retryWhileBusy(insert('taken')), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    assert.equal(tries, 1);
    let calls = 0;
    await assert.rejects(
      retryWhileBusy(() => {
        calls++;
        throw new Error('not found');
      }),
      { message: 'not found' },
    );
    assert.equal(calls, 1);
  });
});
