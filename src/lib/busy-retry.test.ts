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
  /** When each try began (`performance.now()`), in order. */
  let triedAtMs: number[];
  /** One try of a write: a row inserted in a transaction begun IMMEDIATE, as Tally's are. */
  const insert = (value: string) => () => {
    tries++;
    triedAtMs.push(performance.now());
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
    triedAtMs = [];
  });

  afterEach(() => {
    writer.close();
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tries again on timers while another connection holds the write lock, the event loop running meanwhile, and writes once it is released', async () => {
    holder.exec('BEGIN IMMEDIATE');
    setTimeout(() => holder.exec('ROLLBACK'), 150);
    // Released by a timer on this event loop: a write that held the loop while it waited (as
    // SQLite's own busy handler sleeps) would never see it released, and be refused after 5 s.
    const changes = await retryWhileBusy(insert('after the lock'));
    assert.equal(changes, 1);
    assert.deepEqual(writer.prepare('SELECT value FROM t').pluck().all(), ['after the lock']);
    assert.equal(tries > 3, true, `${tries} tries`);
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
    assert.equal(elapsedMs >= 200, true, `gave up after ${elapsedMs.toFixed(0)} ms`);
    assert.equal(tries > 3, true, `${tries} tries`);
    // It stops at the limit: every try but the last began within it (a try refused after it is
    // thrown), however late a loaded machine ran the timers.
    const lastButOneMs = (triedAtMs.at(-2) ?? Number.POSITIVE_INFINITY) - (triedAtMs[0] ?? 0);
    assert.equal(lastButOneMs < 200, true, `the last but one try began after ${lastButOneMs.toFixed(0)} ms`);
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
