import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LEDGER_FILE_CHECK_INTERVAL_MS, watchLedgerFile } from './ledger-file-watch.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-ledger-watch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Waits past the next check. */
const nextCheck = () => new Promise((resolve) => setTimeout(resolve, LEDGER_FILE_CHECK_INTERVAL_MS + 300));

describe('watching the ledger file', () => {
  it('says when its path no longer names the file opened, moved away or replaced, and when it does again', async () => {
    const path = join(dir, 'tally.db');
    writeFileSync(path, 'ledger');
    const seen: string[] = [];
    const stop = watchLedgerFile(path, {
      gone: (why) => seen.push(`gone: ${why}`),
      back: () => seen.push('back'),
    });
    try {
      await nextCheck();
      assert.deepEqual(seen, [], 'nothing to say while it is there');
      renameSync(path, `${path}-moved`);
      await nextCheck();
      renameSync(`${path}-moved`, path);
      await nextCheck();
      // Replaced by a new file of the same name: not the one SQLite writes into.
      renameSync(path, `${path}-old`);
      writeFileSync(path, 'another ledger');
      await nextCheck();
      unlinkSync(path);
      await nextCheck();
      assert.deepEqual(seen, [
        `gone: ${path} is no longer the file Tally opened: it was deleted, or its directory moved away`,
        'back',
        `gone: ${path} is no longer the file Tally opened: it was replaced`,
      ]);
    } finally {
      stop();
    }
  });

  const companions: [suffix: string, name: string][] = [
    ['-wal', 'write-ahead log'],
    ['-shm', 'shared-memory index'],
  ];
  for (const [suffix, name] of companions) {
    it(`says when the ${name} it opened beside the ledger is deleted`, async () => {
      const path = join(dir, `with${suffix}.db`);
      writeFileSync(path, 'ledger');
      writeFileSync(`${path}-wal`, 'log');
      writeFileSync(`${path}-shm`, 'index');
      const seen: string[] = [];
      const stop = watchLedgerFile(path, { gone: (why) => seen.push(why), back: () => seen.push('back') });
      try {
        await nextCheck();
        unlinkSync(`${path}${suffix}`);
        await nextCheck();
        assert.deepEqual(seen, [
          `${path}${suffix} is no longer the file Tally opened: it was deleted, or its directory moved away`,
        ]);
      } finally {
        stop();
      }
    });
  }
});
