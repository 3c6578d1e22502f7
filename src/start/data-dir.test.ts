import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeDataDir } from './data-dir.js';

describe('the data directory', () => {
  it('is refused as a directory this process may not write when it takes no new file, though access() lets root write in it (sysfs)', () => {
    // /sys/kernel takes no new file, from root either, whose access() check it passes.
    assert.throws(() => makeDataDir('/sys/kernel'), {
      name: 'DataDirError',
      message:
        'this process may not create or write in the data directory /sys/kernel: set TALLY_DATA_DIR to a directory it may write, or give it that permission',
    });
  });

  it('truncates no file through a symlink planted where it checks that it may create a file', () => {
    const parent = mkdtempSync(join(tmpdir(), 'tally-data-dir-'));
    try {
      const victim = join(parent, 'victim');
      writeFileSync(victim, 'kept');
      const dataDir = join(parent, 'data');
      makeDataDir(dataDir);
      symlinkSync(victim, join(dataDir, `.tally-write-check-${process.pid}`));
      makeDataDir(dataDir);
      assert.deepEqual([readFileSync(victim, 'utf8'), readdirSync(dataDir)], ['kept', []]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('is made where it is missing and left holding nothing once checked', () => {
    const parent = mkdtempSync(join(tmpdir(), 'tally-data-dir-'));
    try {
      const dataDir = join(parent, 'a', 'data');
      makeDataDir(dataDir);
      assert.deepEqual(readdirSync(dataDir), []);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
