import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lockDataDir } from '../adapters/sqlite/data-dir-lock.js';
import { SQLITE_MIGRATIONS } from '../adapters/sqlite/migrations.js';
import { parseConfig } from '../config.js';
import { migrateAsOlderTally } from '../../test/support/older-schema.js';
import { openCommandLedger } from './command-ledger.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-command-ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("a command's ledger", () => {
  it('is migrated once another command’s moment holding the data directory’s lock has passed, not taken for a server’s', async () => {
    const dataDir = mkdtempSync(join(dir, 'moment-'));
    migrateAsOlderTally(join(dataDir, 'tally.db'), SQLITE_MIGRATIONS.length - 1);
    const parsed = parseConfig({ TALLY_DATA_DIR: dataDir });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    // Another command holds it for a moment, as it looks whether a server holds the directory.
    const command = lockDataDir(dataDir);
    const released = new Promise<void>((resolve) =>
      setTimeout(() => {
        command.release();
        resolve();
      }, 200),
    );
    try {
      const db = await openCommandLedger(parsed.config);
      try {
        assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
      } finally {
        db.close();
      }
    } finally {
      await released;
    }
  });
});
