import assert from 'node:assert/strict';
import fs, {
  chownSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { replaceFileDurably } from './durable-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-durable-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('replacing a file durably', () => {
  it('replaces the file whole, with the permissions asked for, leaving nothing else beside it', () => {
    const folder = mkdtempSync(join(dir, 'whole-'));
    const path = join(folder, 'state.json');
    writeFileSync(path, 'old contents, longer than the new ones');
    const data = `${'x'.repeat(200_000)}\n`;
    replaceFileDurably(path, data, 0o600);
    assert.equal(readFileSync(path, 'utf8'), data);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(folder), ['state.json']);
  });

  it(
    'gives the new file the old one’s owner when root replaces it, so the service’s user can still read it',
    // Only root can give a file another owner (CI runs as root).
    { skip: process.getuid?.() === 0 ? false : 'needs root, to give the old file another owner' },
    () => {
      const folder = mkdtempSync(join(dir, 'owner-'));
      const path = join(folder, 'keys.json');
      writeFileSync(path, 'old');
      const serviceUser = { uid: 4321, gid: 4321 };
      chownSync(path, serviceUser.uid, serviceUser.gid);
      replaceFileDurably(path, 'new', 0o600);
      const { uid, gid } = statSync(path);
      assert.deepEqual({ uid, gid }, serviceUser);
      assert.equal(readFileSync(path, 'utf8'), 'new');
    },
  );

  it(
    'gives a new file its directory’s owner when root makes it (a sudo rotation where the key file was lost), so the service’s user can read it',
    // Only root can give a file another owner (CI runs as root).
    { skip: process.getuid?.() === 0 ? false : 'needs root, to give the directory another owner' },
    () => {
      const folder = mkdtempSync(join(dir, 'new-owner-'));
      const serviceUser = { uid: 4321, gid: 4321 };
      chownSync(folder, serviceUser.uid, serviceUser.gid);
      const path = join(folder, 'keys.json');
      replaceFileDurably(path, 'new', 0o600);
      const { uid, gid } = statSync(path);
      assert.deepEqual({ uid, gid }, serviceUser);
      assert.equal(statSync(path).mode & 0o777, 0o600);
    },
  );

  it('makes its temporary file anew, never writing through a link planted at its name to a file outside the directory', () => {
    const folder = mkdtempSync(join(dir, 'planted-'));
    const outside = join(mkdtempSync(join(dir, 'outside-')), 'victim');
    writeFileSync(outside, 'not Tally’s');
    const path = join(folder, 'keys.json');
    writeFileSync(path, 'old');
    // Whoever may write in the directory knows the temporary file's name: it holds the process id.
    symlinkSync(outside, join(folder, `.${basename(path)}.${process.pid}.tmp`));
    replaceFileDurably(path, 'new', 0o600);
    assert.equal(readFileSync(outside, 'utf8'), 'not Tally’s');
    assert.equal(readFileSync(path, 'utf8'), 'new');
    assert.equal(lstatSync(path).isFile(), true);
    assert.deepEqual(readdirSync(folder), ['keys.json']);
  });

  it('leaves the old file whole, and no temporary file, when the write fails (a full disk)', () => {
    const folder = mkdtempSync(join(dir, 'full-'));
    const path = join(folder, 'state.json');
    writeFileSync(path, 'old');
    // Fault injection: every write fails as on a full disk.
    const realWriteSync = fs.writeSync;
    fs.writeSync = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    syncBuiltinESMExports();
    try {
      assert.throws(() => replaceFileDurably(path, 'new', 0o600), /ENOSPC/);
    } finally {
      fs.writeSync = realWriteSync;
      syncBuiltinESMExports();
    }
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(readdirSync(folder), ['state.json']);
  });
});
