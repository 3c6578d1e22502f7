import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqlite, SchemaTooNewError } from './adapters/sqlite/database.js';
import { parseConfig } from './config.js';
import { KeyFileError } from './keys.js';
import { jsonLogger } from './lib/log.js';
import { startTally } from './server.js';

const parent = mkdtempSync(join(tmpdir(), 'tally-server-'));
after(() => rmSync(parent, { recursive: true, force: true }));

const logLines: string[] = [];
const log = jsonLogger((line) => logLines.push(line));

function configFor(dataDir: string) {
  const parsed = parseConfig({
    TALLY_DATA_DIR: dataDir,
    TALLY_PORT: '0',
    TALLY_HOST: '127.0.0.1',
    TALLY_PUBLIC_URL: 'http://127.0.0.1:1',
    TALLY_ADMIN_KEY: 'test-admin-key-0123456789',
  });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  return parsed.config;
}

/** Starts Tally on `dataDir`, checks it serves, and stops it. */
async function startsAndServes(dataDir: string): Promise<void> {
  const tally = await startTally(configFor(dataDir), log);
  try {
    assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
  } finally {
    await tally.close();
  }
}

describe('startTally failing to start', () => {
  it('releases the data directory when the key file is damaged, so a second start in the process succeeds', async () => {
    const dataDir = mkdtempSync(join(parent, 'keys-'));
    const keyFile = join(dataDir, 'token-keys.json');
    writeFileSync(keyFile, 'this is not JSON');
    await assert.rejects(startTally(configFor(dataDir), log), KeyFileError);
    rmSync(keyFile);
    await startsAndServes(dataDir);
  });

  it('releases the data directory and the database when the schema is too new, so a second start succeeds', async () => {
    const dataDir = mkdtempSync(join(parent, 'schema-'));
    const dbPath = join(dataDir, 'tally.db');
    openSqlite(dbPath).close();
    const newer = new Database(dbPath);
    const version = newer.pragma('user_version', { simple: true }) as number;
    newer.pragma(`user_version = ${version + 1}`);
    newer.close();
    await assert.rejects(startTally(configFor(dataDir), log), SchemaTooNewError);
    const fixed = new Database(dbPath);
    fixed.pragma(`user_version = ${version}`);
    fixed.close();
    await startsAndServes(dataDir);
  });
});
