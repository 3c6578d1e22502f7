import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { rotateKeyFile } from '../../src/keys.js';

const run = promisify(execFile);
const README = new URL('../../README.md', import.meta.url);

/** The README's restore commands: the shell block after "To restore, stop Tally". */
function restoreCommands(): string {
  const text = readFileSync(README, 'utf8');
  const from = text.indexOf('To restore, stop Tally');
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(from));
  assert.notEqual(from, -1, 'the README says how to restore');
  return block?.[1] ?? '';
}

/** The key ids `dataDir`'s key file lists. */
function keyIds(path: string): number[] {
  const file = JSON.parse(readFileSync(path, 'utf8')) as { keys: { id: number }[] };
  return file.keys.map((entry) => entry.id);
}

/**
 * A data directory (`<root>/data`) whose key file was rotated after its backup (`<root>/backups`,
 * standing for the README's `/backups`), its ledger damaged.
 */
function rotatedSinceBackup(): { root: string; backups: string; data: string } {
  const root = mkdtempSync(join(tmpdir(), 'tally-readme-restore-'));
  const data = join(root, 'data');
  const backups = join(root, 'backups');
  mkdirSync(data);
  mkdirSync(backups);
  rotateKeyFile(data);
  writeFileSync(join(backups, 'tally-2026-12-03.db'), 'the ledger as it was backed up');
  copyFileSync(join(data, 'token-keys.json'), join(backups, 'token-keys.json'));
  rotateKeyFile(data);
  writeFileSync(join(data, 'tally.db'), 'a damaged ledger');
  return { root, backups, data };
}

/** Runs the README's restore commands in `root`, its `/backups` being `backups`. */
async function restore(root: string, backups: string): Promise<void> {
  await run('sh', ['-ec', restoreCommands().replaceAll('/backups', backups)], { cwd: root });
}

describe("the README's restore commands", () => {
  it('put the backed-up ledger in place and keep the token key rotated in since the backup, whose tokens are in flight', async () => {
    const { root, backups, data } = rotatedSinceBackup();
    try {
      assert.deepEqual(keyIds(join(data, 'token-keys.json')), [1, 2]);
      await restore(root, backups);
      assert.equal(readFileSync(join(data, 'tally.db'), 'utf8'), 'the ledger as it was backed up');
      assert.deepEqual(keyIds(join(data, 'token-keys.json')), [1, 2]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('make the data directory, its owner’s alone, on a machine that lost it (or never had one), and put the backup and its key file in it', async () => {
    const { root, backups, data } = rotatedSinceBackup();
    try {
      rmSync(data, { recursive: true });
      await restore(root, backups);
      assert.equal(readFileSync(join(data, 'tally.db'), 'utf8'), 'the ledger as it was backed up');
      assert.deepEqual(keyIds(join(data, 'token-keys.json')), [1]);
      assert.equal((statSync(data).mode & 0o777).toString(8), '700');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('put the backed-up key file in place where the data directory lost its own', async () => {
    const { root, backups, data } = rotatedSinceBackup();
    try {
      unlinkSync(join(data, 'token-keys.json'));
      await restore(root, backups);
      assert.deepEqual(keyIds(join(data, 'token-keys.json')), [1]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
