import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataDirInUseError, lockDataDir } from './data-dir-lock.js';

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
});
