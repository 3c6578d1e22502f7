import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from './database.js';
import { raiseTtlCeiling } from './ttl-ceiling.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-ttl-ceiling-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the TTL ceiling', () => {
  it('keeps the longest TTL any start raised it to, across reopenings of the file, never lowering it', () => {
    const path = join(dir, 'tally.db');
    const first = openSqlite(path);
    assert.equal(raiseTtlCeiling(first, 10_800), 10_800);
    assert.equal(raiseTtlCeiling(first, 21_600), 21_600);
    first.close();
    const reopened = openSqlite(path);
    assert.equal(raiseTtlCeiling(reopened, 600), 21_600);
    reopened.close();
  });
});
