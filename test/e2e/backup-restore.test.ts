import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { DspHit, FakeDsp } from '../support/dsp.js';
import { CHROME } from '../support/user-agents.js';

const run = promisify(execFile);

/** Wins fired before the restore: the first `DURING_BACKUP` while the backup may be taken. */
const BEFORE_RESTORE = 400;
const DURING_BACKUP = 300;
/** Wins registered before the backup whose notices are first fired after the restore. */
const AFTER_RESTORE = 150;
const WORKERS = 8;

let tally: TestServer;
let dsp: FakeDsp;
let backupDir: string;

before(async () => {
  dsp = await startDsp();
  tally = await startServer({ TALLY_BURL_RETRY_SECONDS: '1' });
  backupDir = mkdtempSync(join(tmpdir(), 'tally-backup-'));
});

after(async () => {
  await tally?.dispose();
  await dsp?.close();
  rmSync(backupDir, { recursive: true, force: true });
});

/**
 * The README's backup: `sqlite3 tally.db "VACUUM INTO '<target>'"`, run by the sqlite3 command
 * where it is installed, else by better-sqlite3's SQLite in a process of its own.
 */
async function vacuumInto(dbPath: string, target: string): Promise<void> {
  const sql = `VACUUM INTO '${target}'`;
  try {
    await run('sqlite3', [dbPath, sql]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const script = `import Database from 'better-sqlite3'; new Database(process.argv[1]).exec(process.argv[2]);`;
    await run(process.execPath, ['--input-type=module', '-e', script, dbPath, sql], {
      cwd: new URL('../../', import.meta.url).pathname,
    });
  }
}

/** Fires the notices at `indexes` as browsers, `WORKERS` at a time; `onAnswered` after each 200. */
async function fire(urls: string[], indexes: number[], onAnswered: (index: number) => void = () => {}) {
  const queue = [...indexes];
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        const response = await fetch(urls[index] ?? '', { headers: { 'user-agent': CHROME } });
        await response.arrayBuffer();
        assert.equal(response.status, 200);
        onAnswered(index);
      }
    }),
  );
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);
const deliveryId = (hit: DspHit) => String(hit.headers['x-tally-delivery-id']);

describe('a backup taken with VACUUM INTO while notices are fired, then restored', () => {
  it('holds a consistent ledger; the restored server sends its pending burls again under their ids, counts none of its impressions twice, and never gives a delivery id the DSP saw to another impression', async () => {
    const wins = range(0, BEFORE_RESTORE + AFTER_RESTORE).map((index) => ({
      request: { id: `backup-${index}`, imp: [{ id: '1', banner: {} }], site: {} },
      seat: 'seat-backup',
      bid: {
        id: 'b',
        impid: '1',
        price: 1.5,
        adm: '<p>ad</p>',
        burl: `${dsp.url}/bill?auction=\${AUCTION_ID}`,
      },
    }));
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
    assert.equal(registered.status, 200);
    const urls: string[] = registered.body.results.map((result: any) => result.noticeUrls.adm);
    const dbPath = join(tally.dataDir, 'tally.db');
    const backupPath = join(backupDir, 'tally.db');

    // The DSP refuses every burl until the backup is taken: what the backup holds of them is pending.
    dsp.failNext('/bill', Number.MAX_SAFE_INTEGER);
    const answered = new Set<number>();
    let answeredBeforeBackup: Set<number> | undefined;
    let backup: Promise<void> | undefined;
    await fire(urls, range(0, DURING_BACKUP), (index) => {
      answered.add(index);
      if (backup === undefined && answered.size >= DURING_BACKUP / 2) {
        answeredBeforeBackup = new Set(answered);
        backup = vacuumInto(dbPath, backupPath);
      }
    });
    assert.ok(
      backup !== undefined && answeredBeforeBackup !== undefined,
      'the backup started once enough notices were answered',
    );
    await backup;
    dsp.failNext('/bill', 0);
    // Counted after the backup: not in it, and delivered to the DSP before the restore.
    await fire(urls, range(DURING_BACKUP, BEFORE_RESTORE));
    const auctionOf = (hit: DspHit) => hit.query.get('auction') ?? '';
    const deliveredAuctions = () => new Set(dsp.hits.map(auctionOf));
    await dsp.waitFor(
      () => range(0, BEFORE_RESTORE).every((i) => deliveredAuctions().has(`backup-${i}`)),
      30_000,
    );
    const hitsBeforeRestore = dsp.hits.length;
    await tally.stop();
    // A clean stop leaves no WAL or index behind: the README's restore deletes them only if present.
    assert.equal(existsSync(`${dbPath}-wal`), false, 'tally.db-wal is left after a clean stop');
    assert.equal(existsSync(`${dbPath}-shm`), false, 'tally.db-shm is left after a clean stop');

    // The backup on its own: one snapshot of the ledger, whole.
    const copy = new Database(backupPath, { readonly: true });
    let counted: string[];
    try {
      assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(copy.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
      counted = copy
        .prepare(`SELECT auction_id FROM events WHERE outcome = 'counted'`)
        .pluck()
        .all() as string[];
      for (const index of answeredBeforeBackup)
        assert.ok(counted.includes(`backup-${index}`), `backup-${index}`);
      assert.ok(counted.length < BEFORE_RESTORE, 'the notices counted after the backup are not in it');
      // Each counted impression's delivery, pending, and its rollup: written in one transaction.
      const pending = copy.prepare(`SELECT COUNT(*) FROM deliveries WHERE status = 'pending'`).pluck().get();
      assert.equal(pending, counted.length);
      const rolledUp = copy
        .prepare(`SELECT SUM(events) FROM rollup_hourly WHERE outcome = 'counted'`)
        .pluck()
        .get();
      assert.equal(rolledUp, counted.length);
    } finally {
      copy.close();
    }

    // The README's restore, `rm -f` then `cp`: the WAL and its index, if any, belong to the file
    // replaced.
    rmSync(`${dbPath}-wal`, { force: true });
    rmSync(`${dbPath}-shm`, { force: true });
    copyFileSync(backupPath, dbPath);
    await tally.restart();

    // New impressions first, so that they take the delivery ids the ledger hands out next.
    await fire(urls, range(BEFORE_RESTORE, BEFORE_RESTORE + AFTER_RESTORE));
    await fire(urls, range(0, BEFORE_RESTORE));
    const afterRestore = () => dsp.hits.slice(hitsBeforeRestore);
    await dsp.waitFor(() => {
      const sent = new Set(afterRestore().map(auctionOf));
      return [
        ...counted,
        ...range(DURING_BACKUP, BEFORE_RESTORE + AFTER_RESTORE).map((i) => `backup-${i}`),
      ].every((auction) => sent.has(auction));
    }, 30_000);

    // The backup's pending burls are sent again, each under the id the DSP saw it with before.
    const firstIdOf = new Map<string, string>();
    for (const hit of dsp.hits.slice(0, hitsBeforeRestore))
      if (!firstIdOf.has(auctionOf(hit))) firstIdOf.set(auctionOf(hit), deliveryId(hit));
    for (const auction of counted) {
      const again = afterRestore().find((hit) => auctionOf(hit) === auction);
      assert.equal(again && deliveryId(again), firstIdOf.get(auction), `${auction} sent again under its id`);
    }
    // An id names one impression, whatever the restore took back.
    const auctionsById = new Map<string, Set<string>>();
    for (const hit of dsp.hits)
      auctionsById.set(deliveryId(hit), (auctionsById.get(deliveryId(hit)) ?? new Set()).add(auctionOf(hit)));
    const shared = [...auctionsById].filter(([, auctions]) => auctions.size > 1);
    assert.deepEqual(shared.slice(0, 3), [], `${shared.length} delivery ids were given to two impressions`);

    const ledger = new Database(dbPath, { readonly: true });
    try {
      const billed = ledger
        .prepare(`SELECT auction_id, COUNT(*) AS n FROM events WHERE outcome = 'counted' GROUP BY auction_id`)
        .all() as { auction_id: string; n: number }[];
      // The backup's impressions were refused again; those counted after it count again (README).
      assert.equal(billed.length, BEFORE_RESTORE + AFTER_RESTORE);
      assert.deepEqual(
        billed.filter((row) => row.n !== 1),
        [],
      );
      const duplicates = ledger
        .prepare(`SELECT COUNT(*) FROM events WHERE outcome = 'not_counted' AND reason = 'duplicate'`)
        .pluck()
        .get();
      assert.equal(duplicates, counted.length);
    } finally {
      ledger.close();
    }
  });
});
