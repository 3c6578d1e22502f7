import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockFileError } from './data-dir-lock.js';
import { FileLockBusyError, withFileLock } from './file-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-file-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a lock file held for a call', () => {
  it('runs the call holding it, made private, refuses another holder past the wait, and is free after', () => {
    const path = join(dir, 'held.lock');
    const answer = withFileLock(path, 0, () => {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.throws(
        () => withFileLock(path, 50, () => 'taken twice'),
        (error: unknown) => error instanceof FileLockBusyError && error.waitedMs === 50,
      );
      return 'held';
    });
    assert.equal(answer, 'held');
    assert.equal(
      withFileLock(path, 0, () => 'free again'),
      'free again',
    );
  });

  it('refuses a lock file that is no SQLite file (overwritten), saying to delete it', () => {
    const path = join(dir, 'damaged.lock');
    writeFileSync(path, 'not a lock file, but long enough to be read as a database header by SQLite');
    assert.throws(() => withFileLock(path, 0, () => 'run'), LockFileError);
  });
});
