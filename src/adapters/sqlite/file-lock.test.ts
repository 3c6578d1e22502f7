import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('refuses a symbolic link in the lock file’s place, making and changing nothing where it points', () => {
    const folder = mkdtempSync(join(dir, 'linked-'));
    const outside = mkdtempSync(join(dir, 'outside-'));
    // Dangling: the file would be made where it points (and, for root, given the directory's owner).
    const made = join(outside, 'made-by-the-lock');
    symlinkSync(made, join(folder, 'dangling.lock'));
    assert.throws(() => withFileLock(join(folder, 'dangling.lock'), 0, () => 'run'), { code: 'ELOOP' });
    assert.equal(existsSync(made), false);
    const existing = join(outside, 'existing');
    writeFileSync(existing, 'not a lock file');
    symlinkSync(existing, join(folder, 'existing.lock'));
    assert.throws(() => withFileLock(join(folder, 'existing.lock'), 0, () => 'run'), { code: 'ELOOP' });
    assert.equal(readFileSync(existing, 'utf8'), 'not a lock file');
  });
});
