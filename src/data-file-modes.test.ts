import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeDataFilesPrivate } from './data-file-modes.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-data-file-modes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The permission bits of the file at `path`, in octal. */
function modeOf(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

describe("the data files' permissions", () => {
  it('takes from the data files what other users may do, leaving private ones and other files as they are', () => {
    const dataDir = mkdtempSync(join(dir, 'open-'));
    const modes: Record<string, number> = {
      'tally.db': 0o644,
      'tally.db-wal': 0o666,
      'token-keys.json': 0o640,
      'tally.lock': 0o600,
      'notes.txt': 0o644,
    };
    for (const [name, mode] of Object.entries(modes)) {
      writeFileSync(join(dataDir, name), '');
      chmodSync(join(dataDir, name), mode);
    }
    assert.deepEqual(makeDataFilesPrivate(dataDir), [
      { path: join(dataDir, 'tally.db'), fromMode: '644', toMode: '600' },
      { path: join(dataDir, 'tally.db-wal'), fromMode: '666', toMode: '600' },
      { path: join(dataDir, 'token-keys.json'), fromMode: '640', toMode: '600' },
    ]);
    assert.deepEqual(
      Object.keys(modes).map((name) => [name, modeOf(join(dataDir, name))]),
      [
        ['tally.db', '600'],
        ['tally.db-wal', '600'],
        ['token-keys.json', '600'],
        ['tally.lock', '600'],
        ['notes.txt', '644'],
      ],
    );
    assert.deepEqual(makeDataFilesPrivate(dataDir), []);
  });

  it('takes from the data directory what other users may do (list, make or delete its files)', () => {
    const dataDir = mkdtempSync(join(dir, 'open-directory-'));
    chmodSync(dataDir, 0o777);
    writeFileSync(join(dataDir, 'tally.db'), '');
    chmodSync(join(dataDir, 'tally.db'), 0o600);
    assert.deepEqual(makeDataFilesPrivate(dataDir), [{ path: dataDir, fromMode: '777', toMode: '700' }]);
    assert.equal(modeOf(dataDir), '700');
    chmodSync(dataDir, 0o750);
    assert.deepEqual(makeDataFilesPrivate(dataDir), [{ path: dataDir, fromMode: '750', toMode: '700' }]);
    assert.deepEqual(makeDataFilesPrivate(dataDir), []);
  });

  it('changes nothing through a symbolic link in a data file’s place, saying which link points to a file open to others', () => {
    const dataDir = mkdtempSync(join(dir, 'linked-'));
    const outside = mkdtempSync(join(dir, 'outside-'));
    for (const [name, mode] of [
      ['shadow', 0o644],
      ['private', 0o600],
    ] as const) {
      writeFileSync(join(outside, name), '');
      chmodSync(join(outside, name), mode);
    }
    // Planted by whoever could write in the directory before it was made private.
    symlinkSync(join(outside, 'shadow'), join(dataDir, 'tally.db-shm'));
    symlinkSync(join(outside, 'private'), join(dataDir, 'token-keys.lock'));
    symlinkSync(join(outside, 'missing'), join(dataDir, 'tally.lock'));
    assert.deepEqual(makeDataFilesPrivate(dataDir), [
      {
        path: join(dataDir, 'tally.db-shm'),
        mode: '644',
        error: `a symbolic link to ${join(outside, 'shadow')}: Tally changes no file through a link`,
      },
    ]);
    assert.equal(modeOf(join(outside, 'shadow')), '644');
    assert.equal(modeOf(join(outside, 'private')), '600');
  });

  it(
    'says which file, or data directory, it may not change (another user’s), leaving it as it was',
    { skip: process.getuid?.() !== 0 && 'needs root, to run as another user' },
    () => {
      const dataDir = mkdtempSync(join(dir, 'foreign-'));
      chmodSync(dir, 0o755);
      chmodSync(dataDir, 0o777);
      writeFileSync(join(dataDir, 'tally.db'), '');
      chmodSync(join(dataDir, 'tally.db'), 0o644);
      // Root's file, seen by the unprivileged user `nobody`, which may not change its permissions.
      const script = `import { makeDataFilesPrivate } from ${JSON.stringify(new URL('./data-file-modes.ts', import.meta.url).href)};
        console.log(JSON.stringify(makeDataFilesPrivate(${JSON.stringify(dataDir)})));`;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        uid: 65534,
        gid: 65534,
      });
      assert.equal(run.status, 0, run.stderr);
      const found = JSON.parse(run.stdout) as { path: string; mode: string; error: string }[];
      assert.deepEqual(
        found.map(({ path, mode }) => ({ path, mode })),
        [
          { path: dataDir, mode: '777' },
          { path: join(dataDir, 'tally.db'), mode: '644' },
        ],
      );
      for (const { error } of found) assert.match(error, /EPERM/);
      assert.equal(modeOf(dataDir), '777');
      assert.equal(modeOf(join(dataDir, 'tally.db')), '644');
    },
  );
});
